-- cfs.batch: results in list order, one call's failure isolated from the
-- others, callbacks that raise, progress, the deadline, the summary, and
-- pacing that keeps the emulator's rate limit unprovoked.
local emulator = require("spec.helpers.emulator")
local cfs = require("cfs")
local batch = require("cfs.batch")

local DOC_BUCKET =
  "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com"

local function flow_params(name)
  return { FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
    SourceStorageAddress = DOC_BUCKET, SourcePath = "/data/",
    TargetPath = "/cfs/" .. name .. "/", SecretId = "AKIDcosExample",
    SecretKey = "cosSecret", DataFlowName = name }
end

local function flow_list(n, prefix)
  local list = {}
  for i = 1, n do list[i] = flow_params((prefix or "f") .. i) end
  return list
end

local function by_id(flows)
  local map = {}
  for _, f in ipairs(flows) do map[f.DataFlowId] = f end
  return map
end

describe("batch against the emulator", function()
  local em

  setup(function()
    em = emulator.start({ workers = 2 })
  end)

  teardown(function()
    if em then em:stop() end
  end)

  before_each(function()
    em:reset()
    em:settings({ rate_limit = 0, data_flow_limit = 1000, clock_offset = 0 })
  end)

  local function client(o)
    local opts = { endpoint = em.endpoint, ca_file = em.ca_file,
      secret_id = em.secret_id, secret_key = em.secret_key,
      region = "ap-guangzhou", pacer = false }
    for k, v in pairs(o or {}) do opts[k] = v end
    return cfs.new(opts)
  end

  it("gives results in list order, each with its own RequestId", function()
    local list = flow_list(24, "order")
    local results, summary = client():create_data_flows(list,
      { concurrency = 6 })
    assert.equal(24, #results)
    local flows = by_id(em:flows())
    local seen = {}
    for i, r in ipairs(results) do
      assert.is_true(r.ok)
      assert.equal("order" .. i, flows[r.value.DataFlowId].DataFlowName)
      assert.is_nil(seen[r.value.RequestId])
      seen[r.value.RequestId] = true
    end
    assert.equal(24, summary.succeeded)
    assert.equal(0, summary.failed)
    assert.equal(24, summary.attempts)
  end)

  it("isolates each call: bad params, service errors and successes",
    function()
    local list = flow_list(6, "iso")
    list[2].FileSystemId = "not-a-file-system"   -- refused before sending
    list[4].FileSystemId = "cfs-99999999"        -- refused by the service
    list[5] = "not a table"
    local results, summary = client():batch("CreateDataFlow", list)
    assert.is_true(results[1].ok)
    assert.equal("InvalidParameterValue.InvalidFileSystemId",
      results[2].err.code)
    assert.is_nil(results[2].err.request_id)
    assert.is_true(results[3].ok)
    assert.equal("ResourceNotFound.FileSystemNotFound", results[4].err.code)
    assert.is_string(results[4].err.request_id)
    assert.equal(1, results[4].err.attempts)
    assert.equal("InvalidParameter", results[5].err.code)
    assert.is_true(results[6].ok)
    -- Nothing was sent for the calls with bad params.
    local sent = 0
    for _, r in ipairs(em:requests()) do
      if r.action == "CreateDataFlow" then sent = sent + 1 end
    end
    assert.equal(4, sent)
    assert.equal(3, summary.succeeded)
    assert.equal(3, summary.failed)
    assert.same({ ["InvalidParameterValue.InvalidFileSystemId"] = 1,
      ["ResourceNotFound.FileSystemNotFound"] = 1,
      InvalidParameter = 1 }, summary.by_code)
    assert.equal(4, summary.attempts)
  end)

  it("reports a callback's error as that call's error", function()
    local calls = {}
    local results, summary = client():create_data_flows(flow_list(5, "cb"),
      { on_result = function(i)
          calls[#calls + 1] = i
          if i == 2 then error("on_result failed on purpose") end
        end,
        progress = function(done)
          if done == 4 then error({ "not a string" }) end
        end })
    assert.equal(5, #calls)
    assert.equal("CallbackError", results[2].err.code)
    assert.matches("on_result raised: .*on_result failed on purpose",
      results[2].err.message)
    -- The flow was made: the error keeps the call's RequestId.
    assert.is_string(results[2].err.request_id)
    local progress_failed = 0
    for i, r in ipairs(results) do
      if i ~= 2 and not r.ok then
        assert.equal("CallbackError", r.err.code)
        assert.matches("^progress raised", r.err.message)
        progress_failed = progress_failed + 1
      end
    end
    assert.equal(1, progress_failed)
    assert.equal(3, summary.succeeded)
    assert.same({ CallbackError = 2 }, summary.by_code)
    assert.equal(5, #em:flows())
  end)

  it("counts progress: done, failed, total after each call", function()
    local list = flow_list(7, "prog")
    list[3].FileSystemId = "cfs-99999999"
    list[6].DataFlowName = "bad name!"
    local seen = {}
    local results = client():create_data_flows(list, { concurrency = 3,
      progress = function(done, failed, total)
        seen[#seen + 1] = { done, failed, total }
      end })
    assert.equal(7, #seen)
    local failed = 0
    for i, p in ipairs(seen) do
      assert.equal(i, p[1])
      assert.equal(7, p[3])
      assert.is_true(p[2] >= failed)
      failed = p[2]
    end
    assert.same({ 7, 2, 7 }, seen[7])
    assert.is_false(results[3].ok)
    assert.is_false(results[6].ok)
  end)

  it("ends every unfinished call with DeadlineExceeded", function()
    em:fault({ kind = "delay", delay = 2, action = "CreateDataFlow" })
    local results, summary = client():create_data_flows(flow_list(5, "dl"),
      { concurrency = 2, deadline = 0.5 })
    for i, r in ipairs(results) do
      assert.equal("DeadlineExceeded", r.err.code)
      -- In flight when cut: the service may still make the flow.
      if i <= 2 then
        assert.equal("unknown", r.err.outcome)
        assert.equal(1, r.err.attempts)
      else
        assert.is_nil(r.err.outcome)
        assert.equal(0, r.err.attempts)
      end
    end
    assert.same({ DeadlineExceeded = 5 }, summary.by_code)
    assert.equal(2, summary.attempts)
    em:clear_faults()
    -- "unknown" was the truth: the service still makes both flows.
    local flows
    for _ = 1, 40 do
      flows = em:flows()
      if #flows == 2 then break end
      require("cfs.core").sleep(0.1)
    end
    local names = { flows[1].DataFlowName, flows[2].DataFlowName }
    table.sort(names)
    assert.same({ "dl1", "dl2" }, names)
  end)

  it("names the last attempt's code when the deadline cuts a retry",
    function()
    em:fault({ kind = "error", code = "RequestLimitExceeded",
      action = "CreateDataFlow" })
    local c = client({ retry = { max_attempts = 100,
      delay = function() return 0.05 end } })
    local results, summary = c:create_data_flows(flow_list(2, "rl"),
      { deadline = 0.4 })
    for _, r in ipairs(results) do
      assert.equal("DeadlineExceeded", r.err.code)
      assert.matches("last attempt: RequestLimitExceeded", r.err.message,
        1, true)
      assert.is_true(r.err.attempts >= 2)
    end
    assert.is_true(summary.attempts >= 4)
    em:clear_faults()
  end)

  it("retries each call by itself; a waiting retry holds no other call",
    function()
    em:fault({ kind = "error", code = "RequestLimitExceeded", count = 1,
      action = "CreateDataFlow" })
    local c = client({ retry = { delay = function() return 0.5 end } })
    local order = {}
    local results, summary = c:create_data_flows(flow_list(8, "wait"), {
      concurrency = 4,
      on_result = function(i) order[#order + 1] = i end })
    local limited
    for i, r in ipairs(results) do
      if r.attempts == 2 then
        assert.is_nil(limited)
        limited = i
      else
        assert.equal(1, r.attempts)
      end
    end
    assert.is_number(limited)
    assert.equal(limited, order[8])
    assert.is_true(results[limited].ok)
    assert.equal(9, summary.attempts)
    assert.equal(8, #em:flows())
  end)

  it("recovers creates whose connection closed after acting", function()
    em:fault({ kind = "close_after", count = 3, action = "CreateDataFlow" })
    local results, summary = client():create_data_flows(flow_list(10, "drop"),
      { concurrency = 5 })
    local recovered = 0
    local flows = by_id(em:flows())
    for i, r in ipairs(results) do
      assert.is_true(r.ok)
      assert.equal("drop" .. i, flows[r.value.DataFlowId].DataFlowName)
      if r.value.Recovered then recovered = recovered + 1 end
    end
    assert.equal(3, recovered)
    assert.equal(10, #em:flows())
    assert.equal(10, summary.succeeded)
  end)

  it("recovers a share of dropped creates (the fault's ratio)", function()
    local _, status = em:fault({ kind = "close_after", ratio = 1.5 })
    assert.equal(400, status)
    em:fault({ kind = "close_after", ratio = 0.5,
      action = "CreateDataFlow" })
    local results, summary = client():create_data_flows(
      flow_list(40, "share"), { concurrency = 8 })
    em:clear_faults()
    local recovered = 0
    for _, r in ipairs(results) do
      assert.is_true(r.ok)
      if r.value.Recovered then recovered = recovered + 1 end
    end
    -- Each of 40 drawn at one half: all or none would be a 1e-12 event.
    assert.is_true(recovered > 0 and recovered < 40)
    assert.equal(40, #em:flows())
    assert.equal(40, summary.succeeded)
  end)

  it("paces 200 calls under a rate limit of 20/s: no RequestLimitExceeded",
    function()
    em:settings({ rate_limit = 20 })
    local results, summary = client({ pacer = true }):create_data_flows(
      flow_list(200, "paced"), { concurrency = 8 })
    assert.equal(200, summary.succeeded)
    assert.is_true(results[200].ok)
    local limited = 0
    local log = em:requests()
    for _, r in ipairs(log) do
      if r.code == "RequestLimitExceeded" then limited = limited + 1 end
    end
    assert.equal(200, #log)
    assert.equal(0, limited)
    assert.equal(200, summary.attempts)
  end)
end)

describe("batch policy", function()
  local function client(transport, o)
    local opts = { endpoint = "http://127.0.0.1:9", secret_id = "AKIDx",
      secret_key = "k", region = "ap-guangzhou", pacer = false,
      transport = transport }
    for k, v in pairs(o or {}) do opts[k] = v end
    return cfs.new(opts)
  end

  local function answering(codes)
    local sent = {}
    return { send = function(_, req)
      sent[#sent + 1] = req
      local code = codes[#sent]
      local inner = code and '{"Error":{"Code":"' .. code
        .. '","Message":"m"},' or '{"TotalCount":0,"DataFlows":[],'
      return 200, '{"Response":' .. inner .. '"RequestId":"r' .. #sent
        .. '"}}', ""
    end }, sent
  end

  it("runs on a transport without a multi handle, in order", function()
    local transport, sent = answering({ nil, "ResourceNotFound" })
    local results, summary = client(transport):batch("DescribeDataFlow",
      { {}, {}, { Limit = 5 } })
    assert.equal(3, #sent)
    assert.equal("r1", results[1].value.RequestId)
    assert.equal("ResourceNotFound", results[2].err.code)
    assert.equal("r3", results[3].value.RequestId)
    assert.matches('"Limit":5', sent[3].body, 1, true)
    assert.equal(2, summary.succeeded)
  end)

  it("takes the pacer's wait before each start", function()
    local takes = {}
    local pacer = { take = function(_, action, rate)
      takes[#takes + 1] = action .. "@" .. rate
      return 0
    end }
    local transport = answering({})
    local _, summary = client(transport, { pacer = pacer,
      rates = { DescribeDataFlow = 7 } }):batch("DescribeDataFlow",
      { {}, {}, {} })
    assert.same({ "DescribeDataFlow@7", "DescribeDataFlow@7",
      "DescribeDataFlow@7" }, takes)
    assert.equal(3, summary.succeeded)
  end)

  it("keeps a plan's starts within concurrency and in list order",
    function()
    local c = client(answering({}))
    local plan = batch.plan(c, "DescribeDataFlow", { {}, {}, {}, {} },
      { concurrency = 2, clock = function() return 0 end })
    local a = plan:next_start(0)
    local b = plan:next_start(0)
    local none, wait = plan:next_start(0)
    assert.equal(1, a.index)
    assert.equal(2, b.index)
    assert.is_nil(none)
    assert.is_nil(wait)
    plan:answered(b, 200, '{"Response":{"RequestId":"x"}}', "")
    assert.equal(3, plan:next_start(0).index)
  end)

  it("raises for a list or option that is a programming mistake",
    function()
    local c = client(answering({}))
    assert.has_error(function() c:batch("DescribeDataFlow", "x") end)
    assert.has_error(function() c:batch("DescribeDataFlow", {},
      { concurency = 2 }) end)
    assert.has_error(function() c:batch("DescribeDataFlow", {},
      { concurrency = 0 }) end)
  end)

  it("answers an unknown action with InvalidAction for every call",
    function()
    local transport, sent = answering({})
    local results, summary = client(transport):batch("DescribeDataFlows",
      { {}, {} })
    assert.equal("InvalidAction", results[1].err.code)
    assert.equal("InvalidAction", results[2].err.code)
    assert.equal(0, #sent)
    assert.same({ InvalidAction = 2 }, summary.by_code)
  end)
end)
