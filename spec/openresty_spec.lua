-- The library inside nginx (ngx_lua, LuaJIT) through cfs.transport.resty:
-- calls wait without blocking the worker, answers never cross requests,
-- phases without cosockets are refused, TLS is verified with
-- lua_ssl_trusted_certificate. Starts the emulator (1 s injected latency)
-- and an nginx of its own, both on loopback.
--
-- Prints figures (health p99, elapsed times); asserts no timing but the
-- order "every /health answered before the creates finished".
local emulator = require("spec.helpers.emulator")
local nginx = require("spec.helpers.nginx")
local socket = require("socket")
local cjson = require("cjson")

local ROOT = emulator.ROOT
local LATENCY = 1

local function capture(command)
  local pipe = assert(io.popen(command))
  local out = pipe:read("a")
  pipe:close()
  return out
end

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

local function percentile(values, p)
  table.sort(values)
  return values[math.max(1, math.ceil(#values * p))]
end

-- A CA the emulator's certificate does not chain to.
local function other_ca(dir)
  local pem = dir .. "/other-ca.pem"
  capture("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
    .. "-nodes -keyout " .. dir .. "/other-ca.key -out " .. pem
    .. " -days 2 -subj /CN=other-ca 2>&1")
  return pem
end

-- http {} text: clients made in init_by_lua (so connections are lazy),
-- calls attempted in init and init_worker (they must be refused).
local function http_block(em, ca_other)
  local port = em.endpoint:match(":(%d+)$")
  return ([[
  lua_shared_dict spec_results 1m;
  lua_shared_dict spec_pace 1m;
  init_by_lua_block {
    local cfs = require "cfs"
    local function client(endpoint, ca_file)
      return cfs.new { secret_id = %q, secret_key = %q,
        region = "ap-guangzhou", endpoint = endpoint, ca_file = ca_file,
        pacer = false, retry = false, timeout = 20 }
    end
    local clients = {
      main = client("https://localhost:%s/", %q),
      ip = client("https://127.0.0.1:%s/", %q),
      untrusted = client("https://localhost:%s/", %q),
      none = client("https://localhost:%s/"),
    }
    local _, err = clients.main:describe_data_flow {}
    clients.init_code = err and err.code
    clients.init_message = err and err.message
    package.loaded.spec_clients = clients
  }
  init_worker_by_lua_block {
    local _, err = package.loaded.spec_clients.main:describe_data_flow {}
    ngx.shared.spec_results:set("init_worker", err and err.code or "none")
  }
]]):format(em.secret_id, em.secret_key, port, em.ca_file, port,
    em.ca_file, port, ca_other, port)
end

local SERVER_BLOCK = [[
    location = /create {
      lua_ssl_trusted_certificate %s;
      content_by_lua_block {
        local cjson = require "cjson"
        local client = package.loaded.spec_clients.main
        local name = ngx.var.arg_name
        local res, err = client:create_data_flow {
          FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
          SourceStorageAddress =
            "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
          SourcePath = "src", TargetPath = "/cfs/" .. name,
          SecretId = "AKIDcosExample", SecretKey = "cosExampleKey",
          DataFlowName = name }
        ngx.say(cjson.encode { name = name, id = res and res.DataFlowId,
          code = err and err.code, worker = ngx.worker.pid() })
      }
    }
    location = /describe {
      lua_ssl_trusted_certificate %s;
      content_by_lua_block {
        local cjson = require "cjson"
        local client = package.loaded.spec_clients[ngx.var.arg_client]
        local res, err = client:describe_data_flow {}
        ngx.say(cjson.encode { total = res and res.TotalCount,
          code = err and err.code, message = err and err.message })
      }
    }
    location = /describe-other-ca {
      lua_ssl_trusted_certificate %s;
      content_by_lua_block {
        local cjson = require "cjson"
        local client = package.loaded.spec_clients.untrusted
        local res, err = client:describe_data_flow {}
        ngx.say(cjson.encode { total = res and res.TotalCount,
          code = err and err.code, message = err and err.message })
      }
    }
    location = /describe-no-ca {
      content_by_lua_block {
        local cjson = require "cjson"
        local client = package.loaded.spec_clients.none
        local res, err = client:describe_data_flow {}
        ngx.say(cjson.encode { total = res and res.TotalCount,
          code = err and err.code, message = err and err.message })
      }
    }
    location = /log-phase {
      content_by_lua_block { ngx.say("ok") }
      log_by_lua_block {
        local client = package.loaded.spec_clients.main
        local _, err = client:describe_data_flow {}
        ngx.shared.spec_results:set("log", err and err.code or "none")
        ngx.shared.spec_results:set("log_message", err and err.message)
      }
    }
    location = /take {
      content_by_lua_block {
        local pacer = require("cfs.pace_shared").new { dict = "spec_pace" }
        ngx.update_time()
        local wait = pacer:take("CreateDataFlow", 20)
        ngx.say(("%%.6f %%d"):format(ngx.now() + wait, ngx.worker.pid()))
      }
    }
    location = /init-results {
      content_by_lua_block {
        local cjson = require "cjson"
        local clients = package.loaded.spec_clients
        local results = ngx.shared.spec_results
        ngx.say(cjson.encode { init = clients.init_code,
          init_message = clients.init_message,
          init_worker = results:get("init_worker"),
          log = results:get("log"), log_message = results:get("log_message") })
      }
    }
]]

local function start_nginx(em, workers, ca_other)
  return nginx.start { workers = workers, http = http_block(em, ca_other),
    server = SERVER_BLOCK:format(em.ca_file, em.ca_file, ca_other) }
end

local function decode(body)
  local ok, value = pcall(cjson.decode, body or "")
  return ok and value or {}
end

local function create_paths(prefix, n)
  local paths = {}
  for i = 1, n do paths[i] = ("/create?name=%s_%d"):format(prefix, i) end
  return paths
end

local function flows_by_id(em)
  local by_id, count = {}, 0
  for _, flow in ipairs(em:flows()) do
    by_id[flow.DataFlowId] = flow
    count = count + 1
  end
  return by_id, count
end

describe("cfs under OpenResty (nginx + ngx_lua)", function()
  local em, ng, ca_other, tmp

  setup(function()
    tmp = capture("mktemp -d -t cfs-openresty.XXXXXX"):gsub("%s+$", "")
    ca_other = other_ca(tmp)
    em = emulator.start({ workers = 2 })
    ng = start_nginx(em, 1, ca_other)
  end)

  teardown(function()
    if ng then ng:stop() end
    if em then em:stop() end
    if tmp then os.execute("rm -rf " .. nginx.shell_quote(tmp)) end
  end)

  before_each(function()
    em:reset()
    em:settings({ rate_limit = 0, data_flow_limit = 1000 })
  end)

  describe("one worker, with 1 s of latency at the service", function()
    before_each(function()
      em:fault({ kind = "delay", delay = LATENCY, seconds = 60 })
    end)

    it("serves /health while 100 creates wait", function()
      local started = socket.gettime()
      local creates = ng:start_many(create_paths("wait", 100))
      socket.sleep(0.2)
      local health_paths = {}
      for i = 1, 200 do health_paths[i] = "/health?n=" .. i end
      local health, health_done = ng:start_many(health_paths, 10).wait()
      local made, creates_done = creates.wait()

      local times = {}
      for i, r in ipairs(health) do
        assert.equal(200, r.status, "health " .. i)
        assert.equal("ok\n", r.body)
        times[i] = r.time * 1000
      end
      assert.is_true(health_done < creates_done)
      for i, r in ipairs(made) do
        assert.equal("wait_" .. i, decode(r.body).name)
        assert.is_string(decode(r.body).id, r.body)
      end
      local p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
      figure("openresty_health_p99_ms", ("%.1f"):format(p99),
        ("openresty: health p50 %.1f ms, p99 %.1f ms (200 requests, 10 at a "
          .. "time, while 100 creates waited %.2f s)"):format(p50, p99,
          creates_done - started))
    end)

    it("makes 100 concurrent creates in about one latency", function()
      local started = socket.gettime()
      local made, done = ng:start_many(create_paths("many", 100)).wait()
      local flows, count = flows_by_id(em)
      for i, r in ipairs(made) do
        local answer = decode(r.body)
        assert.equal(200, r.status)
        assert.is_string(answer.id, r.body)
        assert.equal("many_" .. i, flows[answer.id].DataFlowName)
      end
      assert.equal(100, count)
      figure("openresty_100_creates_seconds", ("%.2f"):format(done - started),
        ("openresty: 100 concurrent creates from one worker in %.2f s "
          .. "(service latency %d s)"):format(done - started, LATENCY))
    end)
  end)

  describe("examples/openresty", function()
    it("creates a data flow and lists it", function()
      local out = capture("sh " .. nginx.shell_quote(ROOT
        .. "/examples/openresty/run.sh") .. " 2>&1")
      local created = decode(out:match("^([^\n]*)"))
      local listed = decode(out:match("\n([^\n]*)\n?$"))
      assert.matches("^cfs%-dataflow%-", created.DataFlowId, out)
      assert.equal(created.DataFlowId, listed.flows[1].DataFlowId)
      assert.equal("example", listed.flows[1].DataFlowName)
    end)
  end)

  describe("phases without cosockets", function()
    it("init_by_lua, init_worker_by_lua and log_by_lua get UnsupportedPhase",
       function()
      assert.equal(200, (ng:get("/log-phase")))
      local results
      for _ = 1, 50 do -- the log phase runs after the answer is sent
        results = decode(select(2, ng:get("/init-results")))
        if results.log then break end
        socket.sleep(0.02)
      end
      assert.equal("UnsupportedPhase", results.init)
      assert.matches("init phase", results.init_message)
      assert.equal("UnsupportedPhase", results.init_worker)
      assert.equal("UnsupportedPhase", results.log)
      assert.matches("log phase", results.log_message)
      assert.equal(0, #em:requests())
    end)
  end)

  describe("TLS", function()
    it("works with lua_ssl_trusted_certificate naming the emulator's CA",
       function()
      em:call("CreateDataFlow", {
        FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
        SourceStorageAddress = "https://aileen-data-flow-1251000004.cos."
          .. "ap-guangzhou.myqcloud.com",
        SourcePath = "s", TargetPath = "/cfs/t", SecretId = "AKIDcosExample",
        SecretKey = "cosExampleKey", DataFlowName = "seen" })
      local answer = decode(select(2, ng:get("/describe?client=main")))
      assert.is_nil(answer.code)
      assert.equal(1, answer.total)
    end)

    it("gives CertificateError when another CA is trusted", function()
      local body = select(2, ng:get("/describe-other-ca"))
      local answer = decode(body)
      assert.equal("CertificateError", answer.code, body)
      assert.matches("lua_ssl_trusted_certificate", answer.message)
    end)

    it("gives CertificateError when no CA is configured", function()
      local answer = decode(select(2, ng:get("/describe-no-ca")))
      assert.equal("CertificateError", answer.code)
      assert.matches("lua_ssl_trusted_certificate", answer.message)
    end)

    it("gives CertificateError for an IP address (nginx checks names only)",
       function()
      local answer = decode(select(2, ng:get("/describe?client=ip")))
      assert.equal("CertificateError", answer.code)
      assert.matches("IP addresses", answer.message)
      assert.equal(0, #em:requests())
    end)
  end)

  describe("four workers, 400 concurrent requests", function()
    local ng4

    setup(function()
      ng4 = start_nginx(em, 4, ca_other)
    end)

    teardown(function()
      if ng4 then ng4:stop() end
    end)

    it("paces calls of all workers together (cfs.pace_shared)", function()
      local paths = {}
      for i = 1, 100 do paths[i] = "/take?n=" .. i end
      local answers = ng4:start_many(paths).wait()
      local times, per_second = {}, {}
      for i, r in ipairs(answers) do
        times[i] = tonumber(r.body:match("^(%S+)"))
        local second = math.floor(times[i] + 1e-9)
        per_second[second] = (per_second[second] or 0) + 1
      end
      -- Each call goes in its own slot (1/20 s, 5 % wider for slack), so
      -- no second holds more than 20.
      local slots, rate = {}, 20 / 1.05
      for _, t in ipairs(times) do
        -- Times are printed to the microsecond: a slot's start may read
        -- a hair before it.
        local slot = math.floor(t * rate + 1e-3)
        assert.is_nil(slots[slot], ("two calls in slot %d"):format(slot))
        slots[slot] = true
      end
      for second, count in pairs(per_second) do
        assert.is_true(count <= 20, second .. ": " .. count)
      end
    end)

    it("answers each request with its own flow", function()
      em:fault({ kind = "delay", delay = LATENCY, seconds = 60 })
      local started = socket.gettime()
      local first = ng4:start_many(create_paths("tag", 200))
      local second_paths = {}
      for i = 1, 200 do second_paths[i] = "/create?name=tag_" .. (200 + i) end
      local second = ng4:start_many(second_paths)
      local made, done = first.wait()
      local more, done2 = second.wait()
      for i, r in ipairs(more) do made[200 + i] = r end
      local flows, count = flows_by_id(em)
      local workers, worker_count = {}, 0
      for i, r in ipairs(made) do
        local answer = decode(r.body)
        assert.equal("tag_" .. i, answer.name, r.body)
        assert.is_string(answer.id, r.body)
        assert.equal("tag_" .. i, flows[answer.id].DataFlowName)
        if not workers[answer.worker] then
          workers[answer.worker] = true
          worker_count = worker_count + 1
        end
      end
      assert.equal(400, count)
      local elapsed = math.max(done, done2) - started
      figure("openresty_400_creates_4_workers_seconds",
        ("%.2f"):format(elapsed),
        ("openresty: 400 concurrent creates on 4 workers (%d answered) in "
          .. "%.2f s"):format(worker_count, elapsed))
    end)
  end)
end)
