-- A data flow's life through the client: wait_data_flow (against a fake
-- transport with a fake clock and sleep, and against the emulator) and
-- data_flows paging through hundreds of flows.
local cfs = require "cfs"
local cjson = require "cjson"
local emulator = require "spec.helpers.emulator"

local DOC_BUCKET =
  "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com"
local FS = "cfs-44d53b63e"
local OTHER_FS = "cfs-2a7c9e10"
local ID = "cfs-dataflow-0123abcd"

local function flow_params(n, fs)
  return { FileSystemId = fs or FS, SourceStorageType = "S3_COS",
    SourceStorageAddress = DOC_BUCKET, SourcePath = "src" .. n,
    TargetPath = "/cfs/flow" .. n, SecretId = "AKIDEXAMPLEEXAMPLE",
    SecretKey = "exampleSecretKeyValue", DataFlowName = "flow" .. n }
end


-- A transport that answers each DescribeDataFlow with the next of
-- `statuses` (the last one repeats); "gone" answers no flow, and a table
-- is an error envelope. Records the bodies sent.
local function scripted(statuses)
  local t = { bodies = {} }
  function t.send(_, request)
    t.bodies[#t.bodies + 1] = request.body
    local n = #t.bodies
    local status = statuses[n] or statuses[#statuses]
    local response
    if type(status) == "table" then
      response = { Error = status }
    elseif status == "gone" then
      response = { TotalCount = 0, DataFlows = {} }
    else
      response = { TotalCount = 1, DataFlows = { { DataFlowId = ID,
        DataFlowName = "f", SourceStorageType = "S3_COS",
        SourceStorageAddress = DOC_BUCKET, SourcePath = "p",
        TargetPath = "/cfs/p/", Status = status,
        CreationTime = "2024-01-01 00:00:00", FileSystemId = FS } } }
    end
    response.RequestId = "req-" .. n
    return 200, cjson.encode { Response = response },
      "Mon, 01 Jan 2024 00:00:00 GMT"
  end
  return t
end


-- A client on `transport` whose sleeps only move a fake clock.
local function fake_client(transport)
  local fake = { now = 1000, sleeps = {} }
  fake.client = cfs.new { secret_id = "AKIDEXAMPLE", secret_key = "key",
    region = "ap-guangzhou", pacer = false, retry = false,
    transport = transport,
    sleep = function(s)
      fake.sleeps[#fake.sleeps + 1] = s
      fake.now = fake.now + s
    end }
  fake.clock = function() return fake.now end
  return fake
end


local function sum(list)
  local total = 0
  for _, v in ipairs(list) do total = total + v end
  return total
end


describe("wait_data_flow with a fake clock", function()
  it("returns the flow once available, sleeping longer each poll",
     function()
    local t = scripted { "pending", "pending", "pending", "pending",
      "available" }
    local fake = fake_client(t)
    local flow, err = fake.client:wait_data_flow(ID, { clock = fake.clock })
    assert.is_nil(err)
    assert.equal(ID, flow.DataFlowId)
    assert.equal("available", flow.Status)
    assert.same({ 1, 1.5, 2.25, 3.375 }, fake.sleeps)
    assert.equal(5, #t.bodies)
    assert.same({ DataFlowId = ID }, cjson.decode(t.bodies[1]))
  end)

  it("caps the interval at max_interval", function()
    local statuses = {}
    for i = 1, 8 do statuses[i] = "pending" end
    statuses[9] = "available"
    local fake = fake_client(scripted(statuses))
    assert(fake.client:wait_data_flow(ID, { clock = fake.clock,
      interval = 2, backoff = 2, max_interval = 5 }))
    assert.same({ 2, 4, 5, 5, 5, 5, 5, 5 }, fake.sleeps)
  end)

  it("WaitTimeout at the deadline, the last sleep cut to fit", function()
    local t = scripted { "pending" }
    local fake = fake_client(t)
    local flow, err = fake.client:wait_data_flow(ID, { clock = fake.clock,
      timeout = 20 })
    assert.is_nil(flow)
    assert.equal("WaitTimeout", err.code)
    assert.equal(ID, err.data_flow_id)
    assert.equal("pending", err.flow.Status)
    assert.equal(20, sum(fake.sleeps))
    assert.equal(20 - (1 + 1.5 + 2.25 + 3.375 + 5.0625),
      fake.sleeps[#fake.sleeps])
    -- one poll at the start and one after each sleep, the last at 20 s
    assert.equal(#fake.sleeps + 1, #t.bodies)
    assert.truthy(tostring(err):find("WaitTimeout", 1, true))
  end)

  it("DataFlowUnavailable with the flow for a flow that fails", function()
    local fake = fake_client(scripted { "pending", "unavailable" })
    local flow, err = fake.client:wait_data_flow(ID, { clock = fake.clock })
    assert.is_nil(flow)
    assert.equal("DataFlowUnavailable", err.code)
    assert.equal("unavailable", err.flow.Status)
    assert.equal("req-2", err.request_id)
    assert.is_false(err.retryable)
  end)

  it("DataFlowNotFound for a flow that disappears", function()
    local fake = fake_client(scripted { "pending", "gone" })
    local flow, err = fake.client:wait_data_flow(ID, { clock = fake.clock })
    assert.is_nil(flow)
    assert.equal("DataFlowNotFound", err.code)
    assert.is_nil(err.flow)
    assert.same({ 1 }, fake.sleeps)
  end)

  it("DataFlowNotFound for a flow being deleted", function()
    local fake = fake_client(scripted { "deleting" })
    local _, err = fake.client:wait_data_flow(ID, { clock = fake.clock })
    assert.equal("DataFlowNotFound", err.code)
    assert.equal("deleting", err.flow.Status)
    assert.same({}, fake.sleeps)
  end)

  it("returns the service's error as it came", function()
    local fake = fake_client(scripted { "pending",
      { Code = "InvalidParameterValue.InvalidDataFlowId", Message = "no" } })
    local _, err = fake.client:wait_data_flow(ID, { clock = fake.clock })
    assert.equal("InvalidParameterValue.InvalidDataFlowId", err.code)
    assert.equal("req-2", err.request_id)
  end)

  it("codes of its own are listed in errors.codes", function()
    for _, code in ipairs { "DataFlowUnavailable", "DataFlowNotFound",
        "WaitTimeout" } do
      assert.is_string(cfs.errors.codes[code])
    end
  end)

  it("raises on a wrong id or option", function()
    local fake = fake_client(scripted { "available" })
    local c = fake.client
    assert.has_error(function() c:wait_data_flow(42) end,
      "cfs: wait_data_flow: id must be a string, got number")
    assert.has_error(function() c:wait_data_flow(ID, { timout = 3 }) end,
      "cfs: wait_data_flow: unknown option 'timout'")
    assert.has_error(function() c:wait_data_flow(ID, { interval = "1" }) end,
      "cfs: wait_data_flow: option interval must be a number, got string")
    assert.has_error(function() c:wait_data_flow(ID, { interval = 0 }) end)
    assert.has_error(function() c:wait_data_flow(ID, "fast") end)
  end)
end)


describe("the data-flow lifecycle against the emulator", function()
  local em

  setup(function() em = emulator.start { workers = 2 } end)
  teardown(function() if em then em:stop() end end)
  before_each(function()
    em:reset()
    em:settings { rate_limit = 0, pending_seconds = 1, data_flow_limit = 300,
      clock_offset = 0 }
  end)

  local function client(opts)
    local o = { secret_id = em.secret_id, secret_key = em.secret_key,
      region = "ap-guangzhou", endpoint = em.endpoint, ca_file = em.ca_file,
      pacer = false }
    for k, v in pairs(opts or {}) do o[k] = v end
    return cfs.new(o)
  end

  local function describe_requests()
    local list = {}
    for _, r in ipairs(em:requests()) do
      if r.action == "DescribeDataFlow" then list[#list + 1] = r end
    end
    return list
  end

  describe("wait_data_flow", function()
    it("waits for a new flow to become available", function()
      local c = client()
      local created = assert(c:create_data_flow(flow_params(1)))
      local flow, err = c:wait_data_flow(created.DataFlowId,
        { interval = 0.2, timeout = 30 })
      assert.is_nil(err)
      assert.equal(created.DataFlowId, flow.DataFlowId)
      assert.equal("available", flow.Status)
      assert.equal("flow1", flow.DataFlowName)
      assert.truthy(#describe_requests() >= 2)
    end)

    it("needs no real time when the sleep moves the emulator's clock",
       function()
      em:settings { pending_seconds = 60 }
      local offset, sleeps = 0, {}
      local fake_now = 0
      local c = client { sleep = function(s)
        sleeps[#sleeps + 1] = s
        offset, fake_now = offset + s, fake_now + s
        em:settings { clock_offset = offset }
      end }
      local created = assert(c:create_data_flow(flow_params(2)))
      local flow, err = c:wait_data_flow(created.DataFlowId,
        { clock = function() return fake_now end, max_interval = 20 })
      assert.is_nil(err)
      assert.equal("available", flow.Status)
      assert.truthy(sum(sleeps) >= 60)
      assert.truthy(sum(sleeps) - sleeps[#sleeps] < 60)
    end)

    it("WaitTimeout for a flow still pending at the deadline", function()
      em:settings { pending_seconds = 600 }
      local c = client()
      local created = assert(c:create_data_flow(flow_params(3)))
      local flow, err = c:wait_data_flow(created.DataFlowId,
        { interval = 0.2, timeout = 0.5 })
      assert.is_nil(flow)
      assert.equal("WaitTimeout", err.code)
      assert.equal("pending", err.flow.Status)
    end)

    it("DataFlowNotFound for a deleted flow, deleting or gone", function()
      local c = client()
      local created = assert(c:create_data_flow(flow_params(4)))
      assert(c:delete_data_flow { DataFlowId = created.DataFlowId })
      local _, err = c:wait_data_flow(created.DataFlowId)
      assert.equal("DataFlowNotFound", err.code)
      assert.equal("deleting", err.flow.Status)
      em:settings { clock_offset = 2 }
      _, err = c:wait_data_flow(created.DataFlowId)
      assert.equal("DataFlowNotFound", err.code)
      assert.is_nil(err.flow)
      assert.is_string(err.request_id)
    end)
  end)

  describe("data_flows over 250 flows", function()
    local ids

    -- 180 flows on one file system and 70 on another, made in one batch.
    local function make_flows(c)
      local list = {}
      for i = 1, 250 do
        list[i] = flow_params(i, i <= 180 and FS or OTHER_FS)
      end
      local results, summary = c:create_data_flows(list,
        { concurrency = 16 })
      assert.equal(250, summary.succeeded)
      ids = {}
      for i, r in ipairs(results) do ids[i] = r.value.DataFlowId end
    end

    it("lists every flow with exactly 3 calls of Limit 100", function()
      local c = client()
      make_flows(c)
      local seen, order = {}, {}
      for flow, err in c:data_flows() do
        assert.is_nil(err)
        assert.is_nil(seen[flow.DataFlowId])
        seen[flow.DataFlowId] = true
        order[#order + 1] = flow.DataFlowId
      end
      assert.equal(250, #order)
      for _, id in ipairs(ids) do assert.truthy(seen[id], id) end
      local calls = describe_requests()
      assert.equal(3, #calls)
      for i, r in ipairs(calls) do
        assert.equal(100, r.body.Limit)
        assert.equal((i - 1) * 100, r.body.Offset)
        assert.equal("Success", r.code)
      end
    end)

    it("filters by FileSystemId", function()
      local c = client()
      make_flows(c)
      for fs, want in pairs { [FS] = 180, [OTHER_FS] = 70 } do
        local n = 0
        for flow, err in c:data_flows { FileSystemId = fs } do
          assert.is_nil(err)
          assert.equal(fs, flow.FileSystemId)
          n = n + 1
        end
        assert.equal(want, n)
      end
      -- 2 pages for 180 flows, 1 for 70
      assert.equal(3, #describe_requests())
    end)

    it("keeps its own Limit and Offset over the filter's", function()
      local c = client()
      make_flows(c)
      local n = 0
      for flow in c:data_flows { Limit = 5, Offset = 7 } do
        if flow then n = n + 1 end
      end
      assert.equal(250, n)
    end)

    it("gives the loop false, err once on a failure mid-way, then stops",
       function()
      local c = client { retry = false }
      make_flows(c)
      local next_flow = c:data_flows()
      local got, failures, err = 0, 0, nil
      for flow, e in next_flow do
        if not flow then
          failures, err = failures + 1, e
        else
          got = got + 1
          -- the second page will fail
          if got == 100 then
            em:fault { kind = "error", code = "InternalError",
              action = "DescribeDataFlow" }
          end
        end
      end
      em:clear_faults()
      assert.equal(100, got)
      assert.equal(1, failures)
      assert.equal("InternalError", err.code)
      assert.is_nil(next_flow())
      assert.equal(2, #describe_requests())
    end)

    it("ends at once on an empty listing", function()
      local c = client()
      local n = 0
      for _ in c:data_flows() do n = n + 1 end
      assert.equal(0, n)
      assert.equal(1, #describe_requests())
    end)
  end)

  describe("DescribeDataFlow paging at the edges", function()
    before_each(function()
      local c = client()
      local list = {}
      for i = 1, 150 do list[i] = flow_params(i) end
      local _, summary = c:create_data_flows(list, { concurrency = 16 })
      assert.equal(150, summary.succeeded)
    end)

    local function page(p)
      local answer = em:call("DescribeDataFlow", p)
      return answer.Response
    end

    it("gives 20 flows when Limit is absent", function()
      local r = page {}
      assert.equal(150, r.TotalCount)
      assert.equal(20, #r.DataFlows)
    end)

    it("takes Limit 100 and answers InvalidParameterValue above it",
       function()
      assert.equal(100, #page({ Limit = 100 }).DataFlows)
      local r = page { Limit = 101 }
      assert.equal("InvalidParameterValue", r.Error.Code)
      assert.is_nil(r.DataFlows)
    end)

    it("counts Offset from 0 and ends at TotalCount", function()
      local first = page { Limit = 100 }.DataFlows
      local r = page { Offset = 99, Limit = 2 }
      assert.equal(first[100].DataFlowId, r.DataFlows[1].DataFlowId)
      assert.equal(2, #r.DataFlows)
      r = page { Offset = 149, Limit = 100 }
      assert.equal(1, #r.DataFlows)
      assert.equal(150, r.TotalCount)
      for _, offset in ipairs { 150, 1000 } do
        r = page { Offset = offset, Limit = 100 }
        assert.same({}, r.DataFlows)
        assert.equal(150, r.TotalCount)
      end
    end)

    it("the client refuses Limit 101 before sending", function()
      local before = #describe_requests()
      local res, err = client():describe_data_flow { Limit = 101 }
      assert.is_nil(res)
      assert.equal("InvalidParameterValue", err.code)
      assert.equal("Limit", err.field)
      assert.is_nil(err.request_id)
      assert.equal(before, #describe_requests())
    end)
  end)
end)


-- What examples/lifecycle.lua printed, checked step by step.
local function check_example_output(out)
  local id = out:match "created:   (cfs%-dataflow%-%x+)"
  assert.is_string(id, out)
  local escaped = id:gsub("%-", "%%-")
  assert.truthy(out:find("available: " .. escaped .. " available\n"), out)
  assert.truthy(out:find("listed:    " .. escaped
    .. " lifecycle_demo available /cfs/lifecycle/\n"), out)
  assert.truthy(out:find("renamed:   " .. escaped .. " lifecycle_renamed\n"),
    out)
  assert.truthy(out:find("deleted:   " .. escaped
    .. " %(DataFlowNotFound%)\n"), out)
  return id
end


-- The output and whether the command succeeded (LuaJIT's close cannot
-- tell, so the shell prints the status).
local function run(command)
  local pipe = assert(io.popen(command .. " 2>&1; echo \"exit=$?\""))
  local out = pipe:read "*a"
  pipe:close()
  local status = out:match "exit=(%d+)%s*$"
  return out:gsub("exit=%d+%s*$", ""), status == "0"
end


local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end


describe("examples/lifecycle.lua", function()
  local ROOT = emulator.ROOT

  it("runs against an emulator given by the environment", function()
    local em = emulator.start { workers = 1 }
    finally(function() em:stop() end)
    em:settings { pending_seconds = 1 }
    local env = table.concat({
      "LUA_PATH=" .. quote(ROOT .. "/lua/?.lua;" .. ROOT
        .. "/lua/?/init.lua;;"),
      "LUA_CPATH=" .. quote(ROOT .. "/build/5.4/?.so;;"),
      "endpoint=" .. quote(em.endpoint), "ca_file=" .. quote(em.ca_file),
      "secret_id=" .. quote(em.secret_id),
      "secret_key=" .. quote(em.secret_key),
      "TENCENTCLOUD_REGION=ap-guangzhou", "CFS_METADATA_URL=off",
    }, " ")
    local out, ok = run("env " .. env .. " lua5.4 "
      .. quote(ROOT .. "/examples/lifecycle.lua"))
    assert.truthy(ok, out)
    local id = check_example_output(out)
    local flows = em:flows()
    assert.equal(1, #flows)
    assert.equal(id, flows[1].DataFlowId)
    assert.equal("lifecycle_renamed", flows[1].DataFlowName)
    assert.equal("deleting", flows[1].Status)
    local actions = {}
    for _, r in ipairs(em:requests()) do
      actions[r.action] = (actions[r.action] or 0) + 1
    end
    assert.equal(1, actions.CreateDataFlow)
    assert.equal(1, actions.ModifyDataFlow)
    assert.equal(1, actions.DeleteDataFlow)
  end)

  it("runs with one command: sh examples/run.sh lifecycle", function()
    local out, ok = run("sh " .. quote(ROOT .. "/examples/run.sh")
      .. " lifecycle")
    assert.truthy(ok, out)
    check_example_output(out)
    assert.truthy(out:find("emulator: https://127.0.0.1:", 1, true), out)
  end)

  it("run.sh refuses an example that does not exist", function()
    local out, ok = run("sh " .. quote(ROOT .. "/examples/run.sh")
      .. " no_such_example")
    assert.falsy(ok)
    assert.truthy(out:find("no examples/no_such_example.lua", 1, true), out)
  end)
end)
