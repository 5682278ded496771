-- The client end to end against the emulator: results, structured errors,
-- options, dry runs, and secrets that never show.
local cfs = require "cfs"
local errors = require "cfs.errors"
local emulator = require "spec.helpers.emulator"

local SEED = {
  FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
  SourceStorageAddress =
    "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
  SourcePath = "test3", TargetPath = "/cfs/test11",
  SecretId = "AKIDEXAMPLEEXAMPLE", SecretKey = "exampleSecretKeyValue",
  DataFlowName = "abctest",
}

local function with(extra)
  local copy = {}
  for k, v in pairs(SEED) do copy[k] = v end
  for k, v in pairs(extra or {}) do copy[k] = v end
  return copy
end

describe("client against the emulator", function()
  local em

  setup(function() em = emulator.start { workers = 1 } end)
  teardown(function() em:stop() end)
  before_each(function()
    em:reset()
    em:settings { rate_limit = 20, data_flow_limit = 10 }
  end)

  local function client(opts)
    local o = { secret_id = em.secret_id, secret_key = em.secret_key,
      region = "ap-guangzhou", endpoint = em.endpoint,
      ca_file = em.ca_file }
    for k, v in pairs(opts or {}) do o[k] = v end
    return cfs.new(o)
  end

  it("creates a data flow the emulator verified and stored", function()
    local res, err = client():create_data_flow(SEED)
    assert.is_nil(err)
    assert.truthy(res.DataFlowId:find "^cfs%-dataflow%-%x+$")
    assert.truthy(res.RequestId:find "^%x+%-%x+%-%x+%-%x+%-%x+$")
    local flows = em:flows()
    assert.are.equal(1, #flows)
    assert.are.equal(res.DataFlowId, flows[1].DataFlowId)
    assert.are.equal("/cfs/test11/", flows[1].TargetPath)
  end)

  it("describes the flow it created", function()
    local c = client()
    local created = assert(c:create_data_flow(SEED))
    local res = assert(c:describe_data_flow {
      DataFlowId = created.DataFlowId })
    assert.are.equal(1, res.TotalCount)
    assert.are.equal("abctest", res.DataFlows[1].DataFlowName)
    assert.are.equal("S3_COS", res.DataFlows[1].SourceStorageType)
  end)

  it("returns the service's error as a structured object", function()
    local res, err = client():create_data_flow(with {
      FileSystemId = "cfs-00000000" })
    assert.is_nil(res)
    assert.is_true(errors.is(err))
    assert.are.equal("ResourceNotFound.FileSystemNotFound", err.code)
    assert.are.equal(200, err.http_status)
    assert.are.equal(1, err.attempts)
    assert.is_false(err.retryable)
    assert.truthy(err.request_id:find "^%x+%-%x+%-%x+%-%x+%-%x+$")
    local text = tostring(err)
    assert.truthy(text:find("^cfs: CreateDataFlow: "
      .. "ResourceNotFound%.FileSystemNotFound: "))
    assert.truthy(text:find(err.request_id, 1, true))
    assert.are.equal("failed: " .. text, "failed: " .. err)
  end)

  it("gets AuthFailure.SignatureFailure with a wrong secret key", function()
    local _, err = client { secret_key = "not-the-key" }
      :create_data_flow(SEED)
    assert.are.equal("AuthFailure.SignatureFailure", err.code)
    assert.are.equal(0, #em:flows())
  end)

  it("gets AuthFailure.SecretIdNotFound for an unknown key id", function()
    local _, err = client { secret_id = "AKIDunknown0000000000000000" }
      :describe_data_flow {}
    assert.are.equal("AuthFailure.SecretIdNotFound", err.code)
  end)

  it("sends the session token of temporary keys", function()
    local res, err = client {
      secret_id = "AKIDcfsEmulatorTemporaryKey0000000002",
      secret_key = "cfsEmulatorTemporarySecretKey0002",
      token = "cfs-emulator-session-token-0002",
    }:describe_data_flow {}
    assert.is_nil(err)
    assert.are.equal(0, res.TotalCount)
  end)

  it("checks input before sending: nothing reaches the service", function()
    local c = client()
    local cases = {
      { with { DataFlowName = string.rep("流", 65) },
        "InvalidParameterValue.InvalidDataFlowName", "DataFlowName" },
      { with { TargetPath = "/data/x" },
        "InvalidParameterValue.InvalidDataFlowTargetPath", "TargetPath" },
      { with { SourceStorageType = "S3" },
        "InvalidParameterValue.InvalidDataFlowSourceStorageType",
        "SourceStorageType" },
      { with { AutoRefresh = 2 }, nil, "AutoRefresh" },
      { with { FileSystemID = "cfs-1" }, "UnknownParameter", "FileSystemID" },
      { with { SourcePath = 3 }, "InvalidParameter", "SourcePath" },
    }
    for _, case in ipairs(cases) do
      local res, err = c:create_data_flow(case[1])
      assert.is_nil(res)
      if case[2] then assert.are.equal(case[2], err.code) end
      assert.are.equal(case[3], err.field)
      assert.truthy(err.message:find(case[3], 1, true))
    end
    assert.are.equal(0, #em:requests())
  end)

  it("refuses a call without a region before sending it", function()
    local c = cfs.new { secret_id = em.secret_id, secret_key = em.secret_key,
      endpoint = em.endpoint, ca_file = em.ca_file }
    local _, err = c:create_data_flow(SEED)
    assert.are.equal("MissingParameter", err.code)
    assert.are.equal("region", err.field)
    assert.are.equal(0, err.attempts)
    assert.are.equal(0, #em:requests())
    -- Documented as needing none.
    assert(c:describe_cfs_file_systems {})
  end)

  it("says no attempt was made when the input was refused", function()
    local _, err = client():create_data_flow(with { TargetPath = "x" })
    assert.are.equal(0, err.attempts)
  end)

  it("refuses a token without the key pair it belongs to", function()
    assert.has_error(function() cfs.new { token = "t" } end)
  end)

  it("refuses endpoints with a bad port or a password, never echoing it",
    function()
    for _, bad in ipairs { "https://127.0.0.1:99999", "https://127.0.0.1:0",
        "https://127.0.0.1:abc", "https://:443", "127.0.0.1;x",
        "localhost:80:80", "https://127.0.0.1%0d%0aX:1" } do
      assert.has_error(function() client { endpoint = bad } end)
    end
    local ok, message = pcall(client, {
      endpoint = "https://user:SuperSecretPw@127.0.0.1:1" })
    assert.is_false(ok)
    assert.falsy(tostring(message):find("SuperSecretPw", 1, true))
    assert.truthy(tostring(message):find("user information", 1, true))
    assert.are.equal("https://[::1]:8443/",
      client { endpoint = "https://[::1]:8443" }.url)
  end)

  it("refuses a concurrency, clock offset or rate it cannot honour",
    function()
    for _, opts in ipairs {
      { concurrency = 0 }, { concurrency = -1 }, { concurrency = 0 / 0 },
      { clock_offset = 0 / 0 }, { clock_offset = 1e300 },
      { rates = { CreateDataFlow = 1e-9 } },
      { rates = { CreateDataFlow = 0 / 0 } },
      { rates = { CreateDataFlow = "20" } },
      { rates = { CreateDataFlo = 10 } },
      { retry = { max_attempts = math.huge } },
      { retry = { base_delay = "x" } },
    } do
      assert.has_error(function() client(opts) end)
    end
  end)

  it("turns a provider's `nil, message` or odd keys into an error", function()
    local function with_provider(get)
      return cfs.new { credentials = { get = get }, region = "ap-guangzhou",
        endpoint = em.endpoint, ca_file = em.ca_file, retry = false }
    end
    local _, err = with_provider(function() return nil, "no keys here" end)
      :describe_data_flow {}
    assert.are.equal("InvalidCredentials", err.code)
    assert.truthy(err.message:find("no keys here", 1, true))
    _, err = with_provider(function() return true, 5, {} end)
      :describe_data_flow {}
    assert.are.equal("InvalidCredentials", err.code)
    _, err = with_provider(function()
      return true, em.secret_id, string.rep("k", 300)
    end):describe_data_flow {}
    assert.are.equal("InvalidCredentials", err.code)
    assert.falsy(err.message:find("kkkk", 1, true))
    assert.are.equal(0, #em:requests())
  end)

  it("asks retry.should_retry, when given, whether to try again", function()
    local asked = 0
    local c = client { endpoint = "https://127.0.0.1:1", retry = {
      max_attempts = 3, base_delay = 0,
      should_retry = function(err, attempt)
        asked = asked + 1
        assert.are.equal("ConnectError", err.code)
        return attempt < 2
      end } }
    local _, err = c:describe_data_flow {}
    assert.are.equal("ConnectError", err.code)
    assert.are.equal(2, err.attempts)
    assert.are.equal(2, asked)
  end)

  it("suggests the closest field name for an unknown one", function()
    local _, err = client():create_data_flow(with { FileSystemID = "x" })
    assert.truthy(err.message:find("did you mean 'FileSystemId'", 1, true))
  end)

  it("answers an unknown action with InvalidAction, sending nothing", function()
    local _, err = client():call("DescribeDataFlows", {})
    assert.are.equal("InvalidAction", err.code)
    assert.truthy(err.message:find("DescribeDataFlow'", 1, true))
    local _, err2 = client():call("Describe\r\nX: y", {})
    assert.are.equal("InvalidAction", err2.code)
    assert.are.equal(0, #em:requests())
  end)

  it("raises for programming mistakes", function()
    local c = client()
    assert.has_error(function() c:create_data_flow "x" end)
    assert.has_error(function() c.create_data_flow(SEED) end)
    assert.has_error(function() c:call(42, {}) end)
    assert.has_error(function() cfs.new { regoin = "x" } end,
      "cfs.new: unknown option 'regoin'; did you mean 'region'?")
    assert.has_error(function() cfs.new { timeout = "5" } end)
  end)

  it("refuses CR, LF and NUL in what becomes a header", function()
    assert.has_error(function() client { region = "ap\r\nX: 1" } end)
    assert.has_error(function() client { language = "en\nX" } end)
    assert.has_error(function()
      client { endpoint = "https://127.0.0.1\r\n/" }
    end)
    local _, err = client { token = "tok\r\nX-Evil: 1" }
      :describe_data_flow {}
    assert.are.equal("InvalidCredentials", err.code)
    assert.are.equal(0, #em:requests())
  end)

  it("keeps TLS verified: the emulator's certificate needs its CA", function()
    local _, err = client { ca_file = "/etc/ssl/certs/ca-certificates.crt",
      retry = false }:describe_data_flow {}
    assert.are.equal("CertificateError", err.code)
    assert.is_false(err.sent)
  end)

  it("refuses plain http off loopback unless told it is insecure", function()
    assert.has_error(function()
      client { endpoint = "http://cfs.tencentcloudapi.com" }
    end)
    local c = client { endpoint = "http://cfs.example.invalid",
      insecure_http = true }
    assert.are.equal("http://cfs.example.invalid/", c.url)
    local res = assert(client { endpoint = em.http_endpoint }
      :describe_data_flow {})
    assert.are.equal(0, res.TotalCount)
  end)

  it("returns a signed request instead of sending it (dry run)", function()
    local req = assert(client { dry_run = true, token = "tok-secret-1",
      clock = function() return 1551113065 end }:create_data_flow(SEED))
    assert.are.equal("POST", req.method)
    assert.are.equal(em.endpoint .. "/", req.url)
    assert.truthy(req.body:find('"SecretKey":"exampleSecretKeyValue"', 1,
      true))
    local shown = tostring(req)
    assert.falsy(shown:find("exampleSecretKeyValue", 1, true))
    assert.falsy(shown:find("tok-secret-1", 1, true))
    assert.truthy(shown:find('"SecretKey":"***"', 1, true))
    assert.truthy(shown:find("X-TC-Timestamp: 1551113065", 1, true))
    assert.are.equal(0, #em:requests())
  end)

  it("shows no secret in tostring, errors or log lines", function()
    local lines = {}
    local c = client { secret_key = "canary-secret-key-1",
      token = "canary-token-1",
      logger = function(level, msg) lines[#lines + 1] = level .. msg end }
    local _, err = c:create_data_flow(with {
      SecretKey = "canary-body-key-1", Password = "canary-password-1" })
    local seen = tostring(c) .. tostring(err) .. table.concat(lines)
    for _, v in pairs(err) do seen = seen .. tostring(v) end
    for _, canary in ipairs { "canary-secret-key-1", "canary-token-1",
        "canary-body-key-1", "canary-password-1" } do
      assert.falsy(seen:find(canary, 1, true))
    end
  end)

  it("reads keys from a profile file section", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("[default]\nsecret_id = AKIDwrong\nsecret_key = wrong\n\n",
      "[emu]\nsecret_id = ", em.secret_id, "\nsecret_key = ",
      em.secret_key, "\n")
    f:close()
    local c = cfs.new { credentials_file = path, profile = "emu",
      region = "ap-guangzhou", endpoint = em.endpoint,
      ca_file = em.ca_file }
    local res, err = c:describe_data_flow {}
    os.remove(path)
    assert.is_nil(err)
    assert.are.equal(0, res.TotalCount)
  end)

  it("calls any action by name and by its snake_case method", function()
    local c = client()
    local a = assert(c:call("DescribeCfsFileSystems", {}))
    local b = assert(c:describe_cfs_file_systems {})
    assert.are.equal(a.TotalCount, b.TotalCount)
    assert.is_true(a.TotalCount >= 1)
  end)

  it("turns a 502 HTML page into InvalidResponse with its status", function()
    em:fault { kind = "http_502", count = 1 }
    local _, err = client { retry = false }:describe_data_flow {}
    assert.are.equal("InvalidResponse", err.code)
    assert.are.equal(502, err.http_status)
  end)
end)
