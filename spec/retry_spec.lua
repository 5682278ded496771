-- The retry rules: which failures are sent again, which are recovered
-- (a create that may have happened is looked for), which are final; and
-- the backoff's bounds. Against the emulator's fault injection; sleeps
-- are fake where real waiting is not the point.
local emulator = require("spec.helpers.emulator")
local cfs = require("cfs")
local retry = require("cfs.retry")
local socket = require("socket")

local DOC_BUCKET =
  "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com"

local function flow_params(name)
  return { FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
    SourceStorageAddress = DOC_BUCKET, SourcePath = "/data/",
    TargetPath = "/cfs/" .. name .. "/", SecretId = "AKIDcosExample",
    SecretKey = "cosSecret", DataFlowName = name }
end

-- The codes the emulator logged for `action`, oldest first.
local function logged(em, action)
  local codes = {}
  for _, r in ipairs(em:requests()) do
    if r.action == action then codes[#codes + 1] = r.code end
  end
  return codes
end

local function count(list, value)
  local n = 0
  for _, v in ipairs(list) do if v == value then n = n + 1 end end
  return n
end

-- A port on loopback where nothing listens.
local function closed_port()
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  server:close()
  return port
end

describe("retry rules against the emulator", function()
  local em, sleeps

  setup(function()
    em = emulator.start({ workers = 2 })
  end)

  teardown(function()
    if em then em:stop() end
  end)

  before_each(function()
    em:reset()
    em:settings({ rate_limit = 0, data_flow_limit = 100, clock_offset = 0 })
    sleeps = {}
  end)

  local function client(o)
    local opts = { endpoint = em.http_endpoint, secret_id = em.secret_id,
      secret_key = em.secret_key, region = "ap-guangzhou", pacer = false,
      sleep = function(s) sleeps[#sleeps + 1] = s end }
    for k, v in pairs(o or {}) do opts[k] = v end
    return cfs.new(opts)
  end

  describe("sent again", function()
    it("RequestLimitExceeded, for a read and for a create", function()
      em:fault({ kind = "error", code = "RequestLimitExceeded", count = 2,
        action = "DescribeDataFlow" })
      local res, err = client():describe_data_flow({})
      assert.is_nil(err)
      assert.equal(0, res.TotalCount)
      assert.same({ "RequestLimitExceeded", "RequestLimitExceeded",
        "Success" }, logged(em, "DescribeDataFlow"))
      assert.equal(2, #sleeps)

      em:fault({ kind = "error", code = "RequestLimitExceeded", count = 1,
        action = "CreateDataFlow" })
      res = assert(client():create_data_flow(flow_params("rle")))
      assert.same({ "RequestLimitExceeded", "Success" },
        logged(em, "CreateDataFlow"))
      local flows = em:flows()
      assert.equal(1, #flows)
      assert.equal(res.DataFlowId, flows[1].DataFlowId)
    end)

    it("RequestLimitExceeded from the emulator's own rate limit", function()
      em:settings({ rate_limit = 1 })
      -- Real waits: the emulator counts calls per second of its clock.
      local c = client({ sleep = require("cfs.core").sleep,
        retry = { max_attempts = 10, delay = function() return 0.3 end } })
      assert(c:describe_data_flow({}))
      local res, err = c:describe_data_flow({})
      assert.is_nil(err)
      assert.equal(0, res.TotalCount)
      local codes = logged(em, "DescribeDataFlow")
      assert.equal("Success", codes[#codes])
      assert.is_true(count(codes, "RequestLimitExceeded") >= 1)
    end)

    it("a connection refused, up to max_attempts, for any action", function()
      local c = client({ endpoint = "http://127.0.0.1:" .. closed_port(),
        retry = { max_attempts = 3 } })
      local res, err = c:describe_data_flow({})
      assert.is_nil(res)
      assert.equal("ConnectError", err.code)
      assert.equal(3, err.attempts)
      assert.is_true(err.retryable)
      assert.equal(2, #sleeps)

      sleeps = {}
      res, err = c:create_data_flow(flow_params("refused"))
      assert.is_nil(res)
      assert.equal("ConnectError", err.code)
      assert.equal(3, err.attempts)
      assert.equal(2, #sleeps)
      assert.matches("after 3 attempts", tostring(err), 1, true)
    end)

    it("InternalError for Describe*", function()
      em:fault({ kind = "error", code = "InternalError", count = 1,
        action = "DescribeDataFlow" })
      assert(client():describe_data_flow({}))
      assert.same({ "InternalError", "Success" },
        logged(em, "DescribeDataFlow"))
    end)

    it("a timeout for Describe*", function()
      em:fault({ kind = "delay", delay = 1.5, count = 1,
        action = "DescribeDataFlow" })
      local res, err = client({ timeout = 0.5 }):describe_data_flow({})
      assert.is_nil(err)
      assert.equal(0, res.TotalCount)
      assert.equal(1, #sleeps)
    end)
  end)

  describe("not sent again for Create*/Modify*/Delete*", function()
    local function one_flow(c)
      return assert(c:create_data_flow(flow_params("kept"))).DataFlowId
    end

    it("InternalError of ModifyDataFlow and DeleteDataFlow", function()
      local c = client()
      local id = one_flow(c)
      for _, action in ipairs({ "ModifyDataFlow", "DeleteDataFlow" }) do
        em:fault({ kind = "error", code = "InternalError", count = 1,
          action = action })
        local res, err = c:call(action, { DataFlowId = id,
          FileSystemId = "cfs-44d53b63e" })
        assert.is_nil(res)
        assert.equal("InternalError", err.code)
        assert.equal(1, err.attempts)
        assert.is_false(err.retryable)
        assert.equal("unknown", err.outcome)
        assert.same({ "InternalError" }, logged(em, action))
      end
      assert.equal(0, #sleeps)
    end)

    it("InternalError of a Create* the library cannot look for", function()
      em:fault({ kind = "error", code = "InternalError", count = 1,
        action = "CreateCfsPGroup" })
      local res, err = client():call("CreateCfsPGroup", { Name = "pg" })
      assert.is_nil(res)
      assert.equal("InternalError", err.code)
      assert.equal(1, err.attempts)
      assert.equal("unknown", err.outcome)
      assert.same({ "InternalError" }, logged(em, "CreateCfsPGroup"))
    end)

    it("InternalError of CreateDataFlow: sent again only once a search "
      .. "shows no flow was made", function()
      em:fault({ kind = "error", code = "InternalError", count = 1,
        action = "CreateDataFlow" })
      local res = assert(client():create_data_flow(flow_params("ie")))
      local order = {}
      for _, r in ipairs(em:requests()) do
        order[#order + 1] = r.action .. ":" .. r.code
      end
      assert.same({ "CreateDataFlow:InternalError",
        "DescribeDataFlow:Success", "CreateDataFlow:Success" }, order)
      local flows = em:flows()
      assert.equal(1, #flows)
      assert.equal(res.DataFlowId, flows[1].DataFlowId)
    end)

    it("a timeout of CreateDataFlow: outcome unknown, and said", function()
      em:fault({ kind = "delay", delay = 1.5, count = 1,
        action = "CreateDataFlow" })
      local res, err = client({ timeout = 0.5 }):create_data_flow(
        flow_params("slow"))
      assert.is_nil(res)
      assert.equal("Timeout", err.code)
      assert.equal("unknown", err.outcome)
      assert.equal(1, err.attempts)
      assert.matches("may or may not have been carried out", tostring(err),
        1, true)
      -- The service did act, late: one flow, never a second.
      require("cfs.core").sleep(1.5)
      assert.same({ "Success" }, logged(em, "CreateDataFlow"))
      assert.equal(1, #em:flows())
    end)

    it("a timeout of ModifyDataFlow: outcome unknown", function()
      local c = client({ timeout = 0.5 })
      local id = one_flow(c)
      em:fault({ kind = "delay", delay = 1.5, count = 1,
        action = "ModifyDataFlow" })
      local res, err = c:modify_data_flow({ DataFlowId = id,
        FileSystemId = "cfs-44d53b63e", DataFlowName = "renamed" })
      assert.is_nil(res)
      assert.equal("Timeout", err.code)
      assert.equal("unknown", err.outcome)
      assert.equal(1, err.attempts)
    end)
  end)

  describe("never sent again", function()
    local function once(action, res, err, code)
      assert.is_nil(res)
      assert.equal(code, err.code)
      assert.equal(1, err.attempts)
      assert.is_false(err.retryable)
      assert.equal(1, #logged(em, action))
      assert.equal(0, #sleeps)
    end

    it("AuthFailure.SignatureFailure", function()
      local c = client({ secret_key = "not-the-emulator-key" })
      local res, err = c:describe_data_flow({})
      once("DescribeDataFlow", res, err, "AuthFailure.SignatureFailure")
    end)

    it("InvalidParameterValue.* from the service", function()
      local p = flow_params("badbucket")
      p.SourceStorageAddress = "https://no-such-bucket-1250000000.cos."
        .. "ap-guangzhou.myqcloud.com"
      local res, err = client():create_data_flow(p)
      once("CreateDataFlow", res, err,
        "InvalidParameterValue.InvalidDataFlowSourceInfo")
    end)

    it("InvalidParameter (a wrong type, sent by hand)", function()
      local res, err = client():send("DescribeDataFlow", '{"Limit":"ten"}',
        {})
      once("DescribeDataFlow", res, err, "InvalidParameter")
    end)

    it("MissingParameter (a body sent by hand)", function()
      local res, err = client():send("CreateDataFlow",
        '{"FileSystemId":"cfs-44d53b63e"}', {})
      once("CreateDataFlow", res, err, "MissingParameter")
    end)

    it("ResourceNotFound.FileSystemNotFound", function()
      local p = flow_params("nofs")
      p.FileSystemId = "cfs-99999999"
      local res, err = client():create_data_flow(p)
      once("CreateDataFlow", res, err, "ResourceNotFound.FileSystemNotFound")
    end)

    it("ResourceInsufficient.DataFlowLimitExceeded", function()
      em:settings({ data_flow_limit = 1 })
      local c = client()
      assert(c:create_data_flow(flow_params("first")))
      local res, err = c:create_data_flow(flow_params("second"))
      assert.is_nil(res)
      assert.equal("ResourceInsufficient.DataFlowLimitExceeded", err.code)
      assert.equal(1, err.attempts)
      assert.same({ "Success", "ResourceInsufficient.DataFlowLimitExceeded" },
        logged(em, "CreateDataFlow"))
      assert.equal(0, #sleeps)
    end)
  end)

  describe("after the service acted and the connection closed", function()
    it("finds the flow CreateDataFlow made and returns it", function()
      em:fault({ kind = "close_after", count = 1, action = "CreateDataFlow" })
      local res, err = client():create_data_flow(flow_params("dropped"))
      assert.is_nil(err)
      assert.is_true(res.Recovered)
      local flows = em:flows()
      assert.equal(1, #flows)
      assert.equal(flows[1].DataFlowId, res.DataFlowId)
      assert.equal("dropped", flows[1].DataFlowName)
      assert.same({ "Success" }, logged(em, "CreateDataFlow"))
    end)

    it("sends again when the connection closed before acting", function()
      em:fault({ kind = "close_before", count = 1,
        action = "CreateDataFlow" })
      local res = assert(client():create_data_flow(flow_params("early")))
      assert.is_nil(res.Recovered)
      local flows = em:flows()
      assert.equal(1, #flows)
      assert.equal(res.DataFlowId, flows[1].DataFlowId)
    end)
  end)

  describe("the clock", function()
    it("AuthFailure.SignatureExpire: one retry signed with the Date "
      .. "header's clock succeeds", function()
      em:fault({ kind = "clock_offset", offset = 3600 })
      local c = client()
      local res, err = c:describe_data_flow({})
      assert.is_nil(err)
      assert.equal(0, res.TotalCount)
      assert.same({ "AuthFailure.SignatureExpire", "Success" },
        logged(em, "DescribeDataFlow"))
      assert.is_true(math.abs(c.clock_offset - 3600) <= 5)
      assert.equal(0, #sleeps)
    end)

    it("AuthFailure.SignatureExpire twice: no third attempt", function()
      em:fault({ kind = "clock_offset", offset = 3600 })
      -- A clock that jumps back after the fix keeps the signature stale.
      local t = os.time()
      local calls = 0
      local c = client({ clock = function()
        calls = calls + 1
        return calls <= 2 and t or t - 7200
      end })
      local res, err = c:describe_data_flow({})
      assert.is_nil(res)
      assert.equal("AuthFailure.SignatureExpire", err.code)
      assert.equal(2, err.attempts)
    end)

    it("a clock_offset set by hand is used from the first call", function()
      em:fault({ kind = "clock_offset", offset = 3600 })
      assert(client({ clock_offset = 3600 }):describe_data_flow({}))
      assert.same({ "Success" }, logged(em, "DescribeDataFlow"))
    end)
  end)

  it("the final error tells the attempts and the last code", function()
    em:fault({ kind = "error", code = "RequestLimitExceeded", count = 10 })
    local res, err = client({ retry = { max_attempts = 3 } })
      :describe_data_flow({})
    assert.is_nil(res)
    assert.equal("RequestLimitExceeded", err.code)
    assert.equal(3, err.attempts)
    assert.is_true(err.retryable)
    assert.matches("RequestLimitExceeded", tostring(err), 1, true)
    assert.matches("after 3 attempts", tostring(err), 1, true)
    assert.is_string(err.request_id)
    local log = em:requests()
    assert.equal(log[#log].request_id, err.request_id)
  end)
end)

-- Codes the emulator cannot produce, through a transport that answers
-- from a script (each answer as the service's JSON envelope).
describe("retry rules for codes the emulator cannot produce", function()
  local function scripted(codes)
    local sent = {}
    local transport = { send = function(_, req)
      sent[#sent + 1] = req
      local code = codes[#sent]
      local response = code
        and '{"Error":{"Code":"' .. code .. '","Message":"scripted"},'
        or '{"TotalCount":0,"DataFlows":[],'
      return 200, '{"Response":' .. response .. '"RequestId":"req-'
        .. #sent .. '"}}', "Thu, 01 Jan 2026 00:00:00 GMT"
    end }
    return transport, sent
  end

  local function client(transport)
    return cfs.new({ endpoint = "http://127.0.0.1:9", secret_id = "AKIDx",
      secret_key = "k", region = "ap-guangzhou", pacer = false,
      transport = transport, sleep = function() end })
  end

  for _, code in ipairs({ "RequestLimitExceeded.UinLimitExceeded",
      "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
      "ServiceUnavailable" }) do
    it(code .. " is sent again", function()
      local transport, sent = scripted({ code })
      local res = assert(client(transport):describe_data_flow({}))
      assert.equal("req-2", res.RequestId)
      assert.equal(2, #sent)
    end)
  end

  for _, code in ipairs({ "UnauthorizedOperation",
      "UnauthorizedOperation.CamNoAuth", "InvalidParameterValue",
      "ResourceNotFound", "ResourceInsufficient" }) do
    it(code .. " is final", function()
      local transport, sent = scripted({ code, code })
      local res, err = client(transport):describe_data_flow({})
      assert.is_nil(res)
      assert.equal(code, err.code)
      assert.equal("req-1", err.request_id)
      assert.equal(1, #sent)
    end)
  end
end)

describe("backoff", function()
  local function randoms()
    local values, i = { 0, 1, 0.5, 0.999999, 1e-9 }, 0
    return function()
      i = i % #values + 1
      return values[i]
    end
  end

  -- retry.policy refuses the odd ones; a policy table of the user's own
  -- reaches retry.delay unchecked, so delay must hold for them too.
  local function odd(base_delay, max_delay)
    return { max_attempts = 4, base_delay = base_delay,
      max_delay = max_delay }
  end
  local policies = {
    retry.policy(),
    retry.policy({ base_delay = 0, max_delay = 0 }),
    odd(1e308, 5),
    odd(0.1, math.huge),
    odd(0.1, 0 / 0),
    odd(-1, 3),
    odd(0 / 0, 2),
    odd(1, -5),
    retry.policy(false),
  }

  it("refuses odd values in a policy built from options", function()
    for _, o in ipairs { { base_delay = 1e308 }, { max_delay = math.huge },
        { max_delay = 0 / 0 }, { base_delay = -1 }, { base_delay = 0 / 0 },
        { max_delay = -5 }, { max_attempts = 0 } } do
      assert.has_error(function() retry.policy(o) end)
    end
  end)

  it("is finite, non-negative and at most the cap for attempts 1..2000",
    function()
    for p, policy in ipairs(policies) do
      local cap = policy.max_delay
      if not (cap >= 0 and cap < math.huge) then
        cap = retry.defaults.max_delay
      end
      local rand = randoms()
      for attempt = 1, 2000 do
        local d = retry.delay(policy, attempt, rand)
        assert(d == d and d >= 0 and d <= cap and d < math.huge,
          ("policy %d attempt %d: delay %s, cap %s"):format(p, attempt,
            tostring(d), tostring(cap)))
      end
    end
  end)

  it("doubles from base_delay with the random share, up to max_delay",
    function()
    local policy = retry.policy({ base_delay = 0.2, max_delay = 5 })
    local one = function() return 1 end
    assert.equal(0.2, retry.delay(policy, 1, one))
    assert.equal(0.4, retry.delay(policy, 2, one))
    assert.equal(3.2, retry.delay(policy, 5, one))
    assert.equal(5, retry.delay(policy, 6, one))
    assert.equal(5, retry.delay(policy, 2000, one))
    assert.equal(0.8, retry.delay(policy, 6, function() return 0.16 end))
    assert.equal(0, retry.delay(policy, 3, function() return 0 end))
  end)

  it("takes a policy's own delay function and raises on bad options",
    function()
    local policy = retry.policy({ delay = function(attempt)
      return attempt * 0.01 end })
    assert.equal(0.03, retry.delay(policy, 3))
    assert.has_error(function() retry.policy({ max_attempt = 3 }) end)
    assert.has_error(function() retry.policy({ max_attempts = 0 }) end)
    assert.equal(1, retry.policy(false).max_attempts)
  end)
end)
