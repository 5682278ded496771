-- Batches inside nginx (ngx_lua): client:create_data_flows runs on the
-- light-thread engine (cfs.batch_resty) with the resty transport. Starts
-- the emulator and nginx of its own, both on loopback; locations run a
-- batch and answer its results as JSON.
--
-- Asserts order, isolation, the number of calls in flight (counted by
-- wrapping the client's transport), pacing across workers (the
-- emulator's request log), recovery, the deadline, callbacks and phases.
-- Elapsed times are printed, never asserted.
local emulator = require("spec.helpers.emulator")
local nginx = require("spec.helpers.nginx")
local socket = require("socket")
local cjson = require("cjson")

local LATENCY = 1
local BUCKET =
  "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com"

-- Figures go to stdout, and to the file CFS_BENCH_OUT names, if any.
local function figure(name, value, text)
  print(text)
  local out = os.getenv("CFS_BENCH_OUT")
  if not out then return end
  local o = io.open(out, "ab")
  if o then
    o:write(("%s=%s\n"):format(name, value))
    o:close()
  end
end

-- http {}: the CA (at this level, where timers see it), the helpers every
-- location uses (package.loaded.spec_batch), a batch tried in init_worker
-- (refused), and in each worker a timer that runs a batch with the shared
-- pacer whenever /pace-go asks for one.
local HTTP = [[
  lua_ssl_trusted_certificate %s;
  lua_shared_dict spec_batch 1m;
  lua_shared_dict spec_pace 1m;
  init_by_lua_block {
    local cfs = require "cfs"
    local cjson = require "cjson"
    local M = {}
    package.loaded.spec_batch = M

    -- A client whose transport counts the sends in flight.
    function M.client(opts)
      local o = { secret_id = %q, secret_key = %q, region = "ap-guangzhou",
        endpoint = "https://localhost:%s/", ca_file = %q, pacer = false,
        timeout = 20, retry = { max_attempts = 3 } }
      for k, v in pairs(opts or {}) do o[k] = v end
      local client = cfs.new(o)
      local transport = client.transport
      local send = transport.send
      local count = { now = 0, max = 0 }
      transport.send = function(self, request)
        count.now = count.now + 1
        if count.now > count.max then count.max = count.now end
        local status, body, date, sent = send(self, request)
        count.now = count.now - 1
        return status, body, date, sent
      end
      return client, count
    end

    function M.flow(name, fs)
      return { FileSystemId = fs or "cfs-44d53b63e",
        SourceStorageType = "S3_COS", SourceStorageAddress = %q,
        SourcePath = "src", TargetPath = "/cfs/" .. name,
        SecretId = "AKIDcosExample", SecretKey = "cosExampleKey",
        DataFlowName = name }
    end

    -- list[i] is named prefix_i; `bad` maps an index to how it is bad.
    function M.list(prefix, n, bad)
      local list = {}
      for i = 1, n do
        local kind = bad and bad[i]
        if kind == "not_table" then
          list[i] = "not a table"
        elseif kind == "name" then
          list[i] = M.flow(prefix .. " " .. i)
        elseif kind == "file_system" then
          list[i] = M.flow(prefix .. "_" .. i, "cfs-0000000000")
        else
          list[i] = M.flow(prefix .. "_" .. i)
        end
      end
      return list
    end

    function M.encode(results, summary, extra)
      local out = { results = {}, summary = summary,
        worker = ngx.worker.pid() }
      for i, r in ipairs(results) do
        out.results[i] = { ok = r.ok, attempts = r.attempts,
          id = r.ok and r.value.DataFlowId or nil,
          recovered = r.ok and r.value.Recovered or nil,
          code = not r.ok and r.err.code or nil,
          outcome = not r.ok and r.err.outcome or nil }
      end
      for k, v in pairs(extra or {}) do out[k] = v end
      return cjson.encode(out)
    end

    function M.run(opts, prefix, n, bad, extra_opts)
      local client, count = M.client(opts)
      local batch_opts = { concurrency = 10 }
      for k, v in pairs(extra_opts or {}) do batch_opts[k] = v end
      ngx.update_time()
      local started = ngx.now()
      local results, summary = client:create_data_flows(
        M.list(prefix, n, bad), batch_opts)
      ngx.update_time()
      return M.encode(results, summary, { max_in_flight = count.max,
        elapsed = ngx.now() - started })
    end
  }
  init_worker_by_lua_block {
    local M = package.loaded.spec_batch
    local shared = ngx.shared.spec_batch
    local client = M.client()
    local results = client:create_data_flows(M.list("init_worker", 3))
    shared:set("init_worker", M.encode(results, {}))

    local pacer = require("cfs.pace_shared").new { dict = "spec_pace" }
    local seen, busy = 0, false
    ngx.timer.every(0.05, function(premature)
      local go = shared:get("pace_go") or 0
      if premature or busy or go == seen then return end
      seen, busy = go, true
      local list = M.list("paced_" .. go .. "_" .. ngx.worker.id(), 20)
      local paced = M.client { pacer = pacer }
      local got, summary = paced:create_data_flows(list,
        { concurrency = 10 })
      shared:set("pace:" .. go .. ":" .. ngx.worker.id(),
        M.encode(got, summary))
      busy = false
    end)
  }
]]

local SERVER = [[
    location = /batch {
      content_by_lua_block {
        local M = package.loaded.spec_batch
        local args = ngx.req.get_uri_args()
        local bad = {}
        for i, kind in (args.bad or ""):gmatch("(%%d+)=([%%w_]+)") do
          bad[tonumber(i)] = kind
        end
        local opts = { deadline = tonumber(args.deadline),
          concurrency = tonumber(args.concurrency) }
        local raise = tonumber(args.raise)
        if raise then
          opts.on_result = function(i)
            if i == raise then error("on_result refuses " .. i) end
          end
        end
        ngx.say(M.run(nil, args.prefix, tonumber(args.n), bad, opts))
      }
    }
    location = /pace-go {
      content_by_lua_block {
        ngx.say((ngx.shared.spec_batch:incr("pace_go", 1, 0)))
      }
    }
    location = /pace-results {
      content_by_lua_block {
        local shared = ngx.shared.spec_batch
        local go = shared:get("pace_go")
        local out = {}
        for id = 0, 1 do
          out[#out + 1] = shared:get("pace:" .. go .. ":" .. id)
        end
        ngx.say("[" .. table.concat(out, ",") .. "]")
      }
    }
    location = /init-worker {
      content_by_lua_block {
        ngx.say(ngx.shared.spec_batch:get("init_worker"))
      }
    }
    location = /log-phase {
      content_by_lua_block { ngx.say("ok") }
      log_by_lua_block {
        local M = package.loaded.spec_batch
        local results = M.client():create_data_flows(M.list("log", 2))
        ngx.shared.spec_batch:set("log", M.encode(results, {}))
      }
    }
    location = /log-results {
      content_by_lua_block {
        ngx.say(ngx.shared.spec_batch:get("log") or "{}")
      }
    }
]]

local function start_nginx(em, workers)
  local port = em.endpoint:match(":(%d+)$")
  return nginx.start { workers = workers,
    http = HTTP:format(em.ca_file, em.secret_id, em.secret_key, port,
      em.ca_file, BUCKET),
    server = SERVER:format() }
end

local function decode(body)
  local ok, value = pcall(cjson.decode, body or "")
  return ok and value or {}
end

local function batch(ng, query)
  local status, body = ng:get("/batch?" .. query)
  assert.equal(200, status, body)
  local answer = decode(body)
  assert.is_table(answer.results, body)
  return answer, body
end

local function flows_by_id(em)
  local by_id, count = {}, 0
  for _, flow in ipairs(em:flows()) do
    by_id[flow.DataFlowId] = flow
    count = count + 1
  end
  return by_id, count
end

-- Each successful result is the emulator's flow named prefix_i.
local function assert_named(em, answer, prefix)
  local flows = flows_by_id(em)
  for i, r in ipairs(answer.results) do
    if r.ok then
      assert.is_string(r.id)
      assert.equal(prefix .. "_" .. i, flows[r.id].DataFlowName)
    end
  end
end

describe("batches under OpenResty (cfs.batch_resty)", function()
  local em, ng

  setup(function()
    em = emulator.start({ workers = 2 })
    ng = start_nginx(em, 1)
  end)

  teardown(function()
    if ng then ng:stop() end
    if em then em:stop() end
  end)

  before_each(function()
    em:reset()
    em:settings({ rate_limit = 0, data_flow_limit = 1000 })
  end)

  it("gives results[i] for list[i]", function()
    local answer = batch(ng, "prefix=order&n=25")
    assert.equal(25, #answer.results)
    assert.equal(25, answer.summary.succeeded)
    assert_named(em, answer, "order")
    assert.equal(25, select(2, flows_by_id(em)))
  end)

  it("keeps each item's failure to itself", function()
    local answer = batch(ng,
      "prefix=mixed&n=12&bad=3=file_system,5=not_table,8=name,12=file_system")
    local codes = {}
    for i, r in ipairs(answer.results) do codes[i] = r.code or "ok" end
    assert.same({ "ok", "ok", "ResourceNotFound.FileSystemNotFound", "ok",
      "InvalidParameter", "ok", "ok",
      "InvalidParameterValue.InvalidDataFlowName", "ok", "ok", "ok",
      "ResourceNotFound.FileSystemNotFound" }, codes)
    assert.equal(8, answer.summary.succeeded)
    assert.equal(2, answer.summary.by_code
      ["ResourceNotFound.FileSystemNotFound"])
    assert_named(em, answer, "mixed")
    assert.equal(8, select(2, flows_by_id(em)))
  end)

  it("turns a raising on_result into that item's CallbackError", function()
    local answer = batch(ng, "prefix=callback&n=6&raise=4")
    for i, r in ipairs(answer.results) do
      if i == 4 then
        assert.is_false(r.ok)
        assert.equal("CallbackError", r.code)
      else
        assert.is_true(r.ok, cjson.encode(r))
      end
    end
    -- The call itself was made: the flow exists.
    assert.equal(6, select(2, flows_by_id(em)))
  end)

  it("retries and recovers per item", function()
    em:fault({ kind = "close_after", count = 2, action = "CreateDataFlow" })
    em:fault({ kind = "error", code = "RequestLimitExceeded", count = 2,
      action = "CreateDataFlow" })
    local answer = batch(ng, "prefix=again&n=10&concurrency=4")
    local recovered = 0
    for _, r in ipairs(answer.results) do
      assert.is_true(r.ok, cjson.encode(r))
      if r.recovered then recovered = recovered + 1 end
    end
    assert.equal(2, recovered)
    -- Two more attempts for the two refused; none for the two recovered.
    assert.equal(12, answer.summary.attempts)
    assert_named(em, answer, "again")
    -- Recovered creates were not sent twice.
    assert.equal(10, select(2, flows_by_id(em)))
  end)

  describe("with 1 s of latency at the service", function()
    before_each(function()
      em:fault({ kind = "delay", delay = LATENCY, seconds = 60 })
    end)

    it("keeps at most `concurrency` calls in flight, and that many",
       function()
      local answer = batch(ng, "prefix=wide&n=30&concurrency=10")
      assert.equal(30, answer.summary.succeeded)
      assert.equal(10, answer.max_in_flight)
      assert_named(em, answer, "wide")
      figure("openresty_batch_30_by_10_seconds",
        ("%.2f"):format(answer.elapsed),
        ("openresty batch: 30 creates, 10 in flight, %d s latency: %.2f s "
          .. "(3 latencies expected)"):format(LATENCY, answer.elapsed))
    end)

    it("serves /health on the same worker while a batch runs", function()
      local started = socket.gettime()
      local running = ng:start_many({ "/batch?prefix=busy&n=20" })
      socket.sleep(0.2)
      local paths = {}
      for i = 1, 50 do paths[i] = "/health?n=" .. i end
      local health, health_done = ng:start_many(paths, 10).wait()
      local answers, batch_done = running.wait()
      for i, r in ipairs(health) do
        assert.equal(200, r.status, "health " .. i)
        assert.equal("ok\n", r.body)
      end
      assert.is_true(health_done < batch_done)
      local answer = decode(answers[1].body)
      assert.equal(20, answer.summary.succeeded, answers[1].body)
      figure("openresty_batch_health_seconds",
        ("%.2f"):format(health_done - started),
        ("openresty batch: 50 /health answered after %.2f s, batch of 20 "
          .. "done after %.2f s"):format(health_done - started,
          batch_done - started))
    end)

    it("ends every unfinished item at the deadline", function()
      local answer = batch(ng, "prefix=late&n=8&concurrency=4&deadline=0.3")
      for i, r in ipairs(answer.results) do
        assert.is_false(r.ok)
        assert.equal("DeadlineExceeded", r.code)
        -- The first four were in flight: they may have been created.
        assert.equal(i <= 4 and "unknown" or nil, r.outcome)
        assert.equal(i <= 4 and 1 or 0, r.attempts)
      end
      -- The aborted calls still reach the service after its delay; let
      -- them land before the next test resets the emulator.
      for _ = 1, 60 do
        if #em:requests() >= 4 then break end
        socket.sleep(0.05)
      end
    end)
  end)

  describe("phases without cosockets", function()
    it("gives each item UnsupportedPhase in init_worker and log", function()
      local init = decode(select(2, ng:get("/init-worker")))
      assert.equal(200, (ng:get("/log-phase")))
      local log
      for _ = 1, 50 do -- the log phase runs after the answer is sent
        log = decode(select(2, ng:get("/log-results")))
        if log.results then break end
        socket.sleep(0.02)
      end
      assert.equal(3, #init.results)
      assert.equal(2, #log.results)
      for _, r in ipairs(init.results) do
        assert.equal("UnsupportedPhase", r.code)
        assert.equal(0, r.attempts)
      end
      for _, r in ipairs(log.results) do
        assert.equal("UnsupportedPhase", r.code)
      end
      assert.equal(0, #em:requests())
    end)
  end)

  describe("two workers with the shared pacer", function()
    local ng2

    setup(function()
      ng2 = start_nginx(em, 2)
    end)

    teardown(function()
      if ng2 then ng2:stop() end
    end)

    it("stays under the service's rate limit together", function()
      em:settings({ rate_limit = 20 })
      local started = socket.gettime()
      local go = tonumber((select(2, ng2:get("/pace-go"))))
      local batches
      for _ = 1, 300 do
        batches = decode(select(2, ng2:get("/pace-results")))
        if #batches == 2 then break end
        socket.sleep(0.05)
      end
      local elapsed = socket.gettime() - started
      assert.equal(2, #batches)
      assert.are_not.equal(batches[1].worker, batches[2].worker)
      -- The request log, as arrival times and codes, explains a failure.
      local creates, limited, log = 0, 0, {}
      for _, r in ipairs(em:requests()) do
        if r.action == "CreateDataFlow" then creates = creates + 1 end
        if r.code:find("^RequestLimitExceeded") then
          limited = limited + 1
        end
        log[#log + 1] = ("%.4f %s"):format(r.time, r.code)
      end
      log = table.concat(log, "\n")
      assert.equal(0, limited, log)
      assert.equal(40, creates, log)
      local flows = flows_by_id(em)
      for w, b in ipairs(batches) do
        assert.equal(20, b.summary.succeeded, cjson.encode(b))
        assert.equal(20, b.summary.attempts)
        for i, r in ipairs(b.results) do
          assert.equal(("paced_%d_%d_%d"):format(go, w - 1, i),
            flows[r.id].DataFlowName)
        end
      end
      figure("openresty_batch_paced_40_seconds", ("%.2f"):format(elapsed),
        ("openresty batch: 40 creates from 2 workers under 20/s in %.2f s "
          .. "(the limit's pace: 1.95 s)"):format(elapsed))
    end)
  end)
end)
