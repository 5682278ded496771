-- The emulator as a service: start/stop, signature checks and the
-- error codes the service gives for requests it refuses.
local emulator = require("spec.helpers.emulator")
local cjson = require("cjson")

local code = emulator.code

local FIXTURE_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
local FIXTURE_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"

local function read_json(path)
  local f = assert(io.open(emulator.ROOT .. "/" .. path, "rb"))
  local value = cjson.decode(f:read("a"))
  f:close()
  return value
end

local DOC_BUCKET =
  "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com"

local function create_params(extra)
  local p = { FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
    SourceStorageAddress = DOC_BUCKET, SourcePath = "test3",
    TargetPath = "/cfs/test11", SecretId = "AKIDcosExample",
    SecretKey = "cosExampleKey", DataFlowName = "abctest" }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

describe("cfs-emulator", function()
  local em

  setup(function()
    local config = emulator.default_config()
    table.insert(config.keys, { secret_id = FIXTURE_ID,
                                secret_key = FIXTURE_KEY })
    config.data_flow_limit = 1000
    em = emulator.start({ config = config })
  end)

  teardown(function()
    if em then em:stop() end
  end)

  before_each(function()
    em:reset()
    em:settings({ rate_limit = 20, clock_offset = 0 })
  end)

  describe("start, stop and status", function()
    it("prints every name=value line HACKING.md names", function()
      for _, name in ipairs({ "endpoint", "http_endpoint", "admin_endpoint",
                              "ca_file", "dir", "pid", "secret_id",
                              "secret_key" }) do
        assert.is_truthy(em[name], name)
      end
      assert.matches("^https://127%.0%.0%.1:%d+$", em.endpoint)
      assert.matches("^http://127%.0%.0%.1:%d+$", em.http_endpoint)
    end)

    it("reports running in status", function()
      assert.matches("status=running", em:status())
    end)

    it("runs a second emulator beside the first, and stops only it",
       function()
      local other = emulator.start({ workers = 1 })
      assert.are_not.equal(em.pid, other.pid)
      assert.are_not.equal(em.endpoint, other.endpoint)
      assert.matches("status=stopped", other:stop())
      assert.matches("status=stopped", other:status())
      assert.matches("status=running", em:status())
    end)

    it("writes nginx.conf, the CA and the certificate in its dir", function()
      for _, name in ipairs({ "nginx.conf", "ca.pem", "server.pem",
                              "error.log", "nginx.pid" }) do
        assert.is_truthy(io.open(em.dir .. "/" .. name), name)
      end
    end)

    it("serves TLS with a certificate for 127.0.0.1 from its CA", function()
      local out = io.popen("curl -sS --cacert " .. em.ca_file
        .. " -o /dev/null -w '%{http_code}' -X POST " .. em.endpoint
        .. "/ 2>&1"):read("a")
      assert.equal("200", out)
    end)
  end)

  describe("signature", function()
    it("accepts a correctly signed CreateDataFlow", function()
      local r = em:call("CreateDataFlow", create_params())
      assert.is_nil(code(r))
      assert.matches("^cfs%-dataflow%-%x%x%x%x%x%x%x%x$", r.Response.DataFlowId)
      assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", r.Response.RequestId)
    end)

    it("accepts the official SDK's requests byte for byte", function()
      local cases = read_json("spec/fixtures/tc3-official-sdk.json").cases
      for _, c in ipairs(cases) do
        em:reset()
        -- Move the emulator's clock to the fixture's time.
        em:settings({ clock_offset = c.timestamp - os.time() })
        local headers = {}
        for _, pair in ipairs(c.headers_sent_by_official_sdk) do
          if pair[1] ~= "Content-Length" then headers[#headers + 1] = pair end
        end
        if c.token then
          em:settings({ clock_offset = c.timestamp - os.time() })
        end
        local status, _, body = em:raw(emulator.http_message(headers, c.body))
        assert.equal(200, status)
        local r = cjson.decode(body)
        local got = code(r)
        -- Only the signature matters here, not the fixture's flow fields.
        assert.is_not.matches("^AuthFailure", got or "", c.id)
      end
    end)

    it("rejects a wrong signature with AuthFailure.SignatureFailure",
       function()
      local r = em:call("CreateDataFlow", create_params(),
                        { secret_key = "not-the-key" })
      assert.equal("AuthFailure.SignatureFailure", code(r))
    end)

    it("rejects a body changed after signing", function()
      local o = { action = "DescribeDataFlow", body = "{}" }
      local headers = em:signed_headers(o)
      local status, _, body = em:raw(emulator.http_message(headers,
                                                           '{"Limit":1}'))
      assert.equal(200, status)
      assert.equal("AuthFailure.SignatureFailure", code(cjson.decode(body)))
    end)

    it("checks extra signed headers such as x-tc-action", function()
      local body = "{}"
      local ts = os.time()
      local auth = emulator.sign({ secret_id = em.secret_id,
        secret_key = em.secret_key, timestamp = ts, service = "cfs",
        host = "cfs.tencentcloudapi.com", content_type = "application/json",
        body = body, signed = { { "x-tc-action", "DescribeDataFlow" } } })
      local r = em:call("DescribeDataFlow", body,
                        { timestamp = ts, authorization = auth })
      assert.is_nil(code(r))
      -- Lower-cased values, as the current documentation signs them.
      auth = emulator.sign({ secret_id = em.secret_id,
        secret_key = em.secret_key, timestamp = ts, service = "cfs",
        host = "cfs.tencentcloudapi.com", content_type = "application/json",
        body = body, signed = { { "x-tc-action", "describedataflow" } } })
      r = em:call("DescribeDataFlow", body,
                  { timestamp = ts, authorization = auth })
      assert.is_nil(code(r))
    end)

    it("rejects a scope for another service", function()
      local r = em:call("DescribeDataFlow", {}, { service = "cvm" })
      assert.equal("AuthFailure.SignatureFailure", code(r))
    end)

    it("answers AuthFailure.SecretIdNotFound for an unknown key", function()
      local r = em:call("DescribeDataFlow", {}, { secret_id = "AKIDnobody" })
      assert.equal("AuthFailure.SecretIdNotFound", code(r))
    end)

    it("answers AuthFailure.SignatureExpire beyond 300 s", function()
      local r = em:call("DescribeDataFlow", {},
                        { timestamp = os.time() - 301 })
      assert.equal("AuthFailure.SignatureExpire", code(r))
      r = em:call("DescribeDataFlow", {}, { timestamp = os.time() + 400 })
      assert.equal("AuthFailure.SignatureExpire", code(r))
      r = em:call("DescribeDataFlow", {}, { timestamp = os.time() - 250 })
      assert.is_nil(code(r))
    end)

    it("answers AuthFailure.TokenFailure for a missing or wrong token",
       function()
      local key = emulator.default_config().keys[2]
      local o = { secret_id = key.secret_id, secret_key = key.secret_key }
      assert.equal("AuthFailure.TokenFailure",
                   code(em:call("DescribeDataFlow", {}, o)))
      o.token = "wrong"
      assert.equal("AuthFailure.TokenFailure",
                   code(em:call("DescribeDataFlow", {}, o)))
      o.token = key.token
      assert.is_nil(code(em:call("DescribeDataFlow", {}, o)))
    end)

    it("answers AuthFailure.TokenFailure for an expired temporary key",
       function()
      local key = emulator.default_config().keys[3]
      local r = em:call("DescribeDataFlow", {}, { secret_id = key.secret_id,
        secret_key = key.secret_key, token = key.token })
      assert.equal("AuthFailure.TokenFailure", code(r))
    end)

    it("answers AuthFailure.InvalidAuthorization for a malformed header",
       function()
      for _, bad in ipairs({ "Bearer abc", "TC3-HMAC-SHA256 Credential=x",
        "TC3-HMAC-SHA256 Credential=AKID/2020-01-01/cfs/tc3_request, "
        .. "SignedHeaders=host, Signature=" .. string.rep("a", 64) }) do
        local r = em:call("DescribeDataFlow", {}, { authorization = bad })
        assert.equal("AuthFailure.InvalidAuthorization", code(r), bad)
      end
    end)
  end)

  describe("common errors", function()
    it("answers InvalidAction for an unknown action", function()
      assert.equal("InvalidAction", code(em:call("CreateNothing", {})))
    end)

    it("answers a known unmodelled action with every output field",
       function()
      local r = em:call("DescribeLifecyclePolicies", {})
      assert.is_nil(code(r))
      assert.equal(0, r.Response.TotalCount)
      assert.equal("table", type(r.Response.LifecyclePolicies))
    end)

    it("answers NoSuchVersion for another version", function()
      local r = em:call("DescribeDataFlow", {}, { version = "2017-03-12" })
      assert.equal("NoSuchVersion", code(r))
    end)

    it("answers MissingParameter for a missing header or field", function()
      for _, name in ipairs({ "X-TC-Action", "X-TC-Version",
                              "X-TC-Timestamp", "X-TC-Region",
                              "Authorization" }) do
        local r = em:call("CreateDataFlow", create_params(),
                          { omit = { [name] = true } })
        assert.equal("MissingParameter", code(r), name)
      end
      local p = create_params()
      p.TargetPath = nil
      assert.equal("MissingParameter", code(em:call("CreateDataFlow", p)))
    end)

    it("answers UnknownParameter for a field the action lacks", function()
      local r = em:call("DescribeDataFlow", { Nope = 1 })
      assert.equal("UnknownParameter", code(r))
    end)

    it("answers InvalidParameter for bodies that are not JSON objects",
       function()
      for _, body in ipairs({ '{"Limit":', "not json", "[1,2]", "3", "",
                              '{"Limit":"ten"}', '{"Limit":1.5}',
                              '{"DataFlowName":"\255\254"}' }) do
        local r = em:call("DescribeDataFlow", body)
        assert.equal("InvalidParameter", code(r), body)
      end
    end)

    it("answers InvalidParameter for a repeated header", function()
      local r = em:call("DescribeDataFlow", {},
                        { extra = { { "X-TC-Version", "2019-07-19" } } })
      assert.equal("InvalidParameter", code(r))
    end)

    it("answers UnsupportedRegion for an unknown region", function()
      local r = em:call("DescribeDataFlow", {}, { region = "mars-north-1" })
      assert.equal("UnsupportedRegion", code(r))
    end)

    it("answers RequestLimitExceeded past the rate per action and key",
       function()
      em:settings({ rate_limit = 3 })
      local codes = {}
      for i = 1, 6 do
        codes[i] = code(em:call("DescribeDataFlow", {})) or "ok"
      end
      assert.is_truthy(table.concat(codes, " "):find("RequestLimitExceeded"))
      -- Another action has its own budget.
      em:settings({ rate_limit = 0 })
      assert.is_nil(code(em:call("DescribeCfsFileSystems", {})))
    end)

    it("answers RequestSizeLimitExceeded for a body over 10 MB", function()
      local body = '{"DataFlowName":"' .. string.rep("a", 11 * 1024 * 1024)
                   .. '"}'
      local r, status = em:call("DescribeDataFlow", body)
      assert.equal(200, status)
      assert.equal("RequestSizeLimitExceeded", code(r))
      assert.is_nil(code(em:call("DescribeDataFlow", {})))
    end)

    it("gives every answer a fresh RequestId and a Date header", function()
      local a, _, headers = em:call("DescribeDataFlow", {})
      local b = em:call("CreateNothing", {})
      assert.are_not.equal(a.Response.RequestId, b.Response.RequestId)
      assert.matches("GMT$", headers.date)
    end)

    it("moves its Date header with clock_offset", function()
      em:settings({ clock_offset = 86400 * 365 })
      local _, _, headers = em:call("DescribeDataFlow", {})
      local year = tonumber(os.date("!%Y")) + 1
      assert.matches(tostring(year), headers.date)
    end)
  end)

  describe("hostile input", function()
    local function still_serves()
      assert.is_nil(code(em:call("DescribeDataFlow", {})))
    end

    it("refuses other methods and paths with a plain 4xx", function()
      local status = em:raw("GET / HTTP/1.1\r\nHost: x\r\n"
                            .. "Connection: close\r\n\r\n")
      assert.equal(405, status)
      status = em:raw("POST /other HTTP/1.1\r\nHost: x\r\n"
                      .. "Content-Length: 0\r\nConnection: close\r\n\r\n")
      assert.equal(404, status)
      still_serves()
    end)

    it("refuses a 64 KB header with a 4xx", function()
      local status = em:raw("POST / HTTP/1.1\r\nHost: x\r\nX-Big: "
        .. string.rep("b", 65536) .. "\r\nConnection: close\r\n\r\n")
      assert.is_true(status >= 400 and status < 500)
      still_serves()
    end)

    it("survives a body shorter than its Content-Length", function()
      local ts = os.time()
      local status = em:raw("POST / HTTP/1.1\r\nHost: x\r\n"
        .. "X-TC-Action: DescribeDataFlow\r\nContent-Length: 100\r\n"
        .. "X-TC-Timestamp: " .. ts .. "\r\n\r\n{\"Li", 2)
      assert.is_true(status == nil or status < 500)
      still_serves()
    end)

    it("answers garbage headers with the error envelope", function()
      local status, _, body = em:raw("POST / HTTP/1.1\r\nHost: x\r\n"
        .. "X-TC-Action: DescribeDataFlow\r\nX-TC-Version: 2019-07-19\r\n"
        .. "X-TC-Timestamp: yesterday\r\nAuthorization: x\r\n"
        .. "Content-Length: 2\r\nConnection: close\r\n\r\n{}")
      assert.equal(200, status)
      assert.equal("InvalidParameter", code(cjson.decode(body)))
      still_serves()
    end)
  end)
end)

describe("emulator robustness", function()
  it("leaves alone a live process that is not its nginx", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p '" .. dir .. "'"))
    local pipe = assert(io.popen("sleep 30 & echo $!"))
    local pid = pipe:read "*l"
    pipe:close()
    local f = assert(io.open(dir .. "/nginx.pid", "w"))
    f:write(pid, "\n")
    f:close()
    local out = assert(io.popen(emulator.ROOT .. "/bin/cfs-emulator stop "
      .. "--dir '" .. dir .. "'")):read "*a"
    assert.truthy(out:find("status=stopped", 1, true))
    assert.is_true(os.execute("kill -0 " .. pid .. " 2>/dev/null") == true
      or os.execute("kill -0 " .. pid .. " 2>/dev/null") == 0)
    os.execute("kill " .. pid .. " 2>/dev/null; rm -rf '" .. dir .. "'")
  end)

  it("answers a body whose number overflows with an API answer", function()
    local em = emulator.start { workers = 1 }
    local c = require("cfs").new { secret_id = em.secret_id,
      secret_key = em.secret_key, region = "ap-guangzhou",
      endpoint = em.endpoint, ca_file = em.ca_file, retry = false }
    local res, err = c:send("DescribeDataFlow", '{"Limit":1e400}')
    em:stop()
    assert.is_nil(res)
    assert.are.equal(200, err.http_status)
    assert.truthy(err.code:find "^InvalidParameter")
  end)
end)

describe("emulator arguments", function()
  it("refuses a worker count or port nginx cannot serve with", function()
    for _, args in ipairs { "--workers 0", "--workers 2.5", "--port 99999",
        "--admin-port 0" } do
      local pipe = assert(io.popen(emulator.ROOT .. "/bin/cfs-emulator start "
        .. args .. " 2>&1; echo rc=$?"))
      local out = pipe:read "*a"
      pipe:close()
      assert.truthy(out:find("rc=2", 1, true), args .. ": " .. out)
      assert.truthy(out:find("must be a whole number", 1, true), out)
    end
  end)
end)
