-- Calls a second with 16 in flight over plain HTTP to the emulator (rate
-- limits off): the library's batch of CreateDataFlow (each call encoded,
-- paced, signed, sent, decoded) against a plain C libcurl multi loop
-- (bench/curl_multi.c, built here with cc) posting one pre-signed request
-- with 16 handles, in the same run. Prints both and their ratio.
--   lua5.4 bench/batch_throughput.lua [calls] [in_flight] [workers]
--   (paths: make -s env)
package.path = (arg[0]:match "^(.*)/bench/" or ".") .. "/?.lua;"
  .. package.path
local common = require "bench.common"
local cfs = require "cfs"

local N = tonumber(arg[1]) or 5000
local IN_FLIGHT = tonumber(arg[2]) or 16
local WORKERS = tonumber(arg[3]) or 1
local ROUNDS = 3   -- each side runs this often; the best run counts
local quote = common.shell_quote

local BUCKET =
  "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com"

local em = common.start_emulator("--workers " .. WORKERS)

local function fresh_state()
  common.admin(em, "POST", "/reset")
  common.admin(em, "PUT", "/settings", { rate_limit = 0,
    data_flow_limit = N + 100 })
end

local function client(opts)
  local o = { secret_id = em.secret_id, secret_key = em.secret_key,
    region = "ap-guangzhou", endpoint = em.http_endpoint, pacer = false }
  for k, v in pairs(opts or {}) do o[k] = v end
  return cfs.new(o)
end

local function params(i)
  return { FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
    SourceStorageAddress = BUCKET, SourcePath = "/data/",
    TargetPath = "/cfs/tp" .. i .. "/", SecretId = "AKIDcosBench",
    SecretKey = "bench-cos-secret", DataFlowName = "tp" .. i }
end

local function library_run()
  fresh_state()
  local list = {}
  for i = 1, N do list[i] = params(i) end
  local c = client()
  local _, summary = c:create_data_flows(list, { concurrency = IN_FLIGHT })
  c:close()
  return N / summary.elapsed, summary.failed
end

-- The baseline's request: signed once (a dry run), posted N times.
local req = assert(client({ dry_run = true }):create_data_flow(params(0)))
local work = os.tmpname()
local hf = assert(io.open(work .. ".h", "w"))
local bf = assert(io.open(work .. ".b", "w"))
hf:write(table.concat(req.headers, "\n"), "\n")
bf:write(req.body)
hf:close()
bf:close()
local exe = work .. ".curl_multi"
assert(os.execute(("cc -std=c99 -O2 -o %s %s/bench/curl_multi.c "
  .. "$(pkg-config --cflags --libs libcurl)"):format(quote(exe),
  quote(common.root))))

local function baseline_run()
  fresh_state()
  local pipe = assert(io.popen(("%s %s %s %s %d %d"):format(exe,
    quote(req.url), quote(work .. ".h"), quote(work .. ".b"), N,
    IN_FLIGHT)))
  local rate, failed = pipe:read "*a":match "^(%S+) (%d+)"
  pipe:close()
  return tonumber(rate) or 0, tonumber(failed) or N
end

library_run()   -- warm up: connections, caches, the JIT
local library, baseline, library_failed, baseline_failed = 0, 0, 0, 0
for _ = 1, ROUNDS do
  local rate, failed = baseline_run()
  if rate > baseline then baseline, baseline_failed = rate, failed end
  rate, failed = library_run()
  if rate > library then library, library_failed = rate, failed end
end
os.remove(work) os.remove(work .. ".h") os.remove(work .. ".b")
os.remove(exe)
common.stop_emulator(em)

print(("batch_throughput: %s, %d CreateDataFlow per run, %d in flight, "
  .. "plain HTTP, %d emulator worker(s), best of %d"):format(
  jit and jit.version or _VERSION, N, IN_FLIGHT, WORKERS, ROUNDS))
print(("  library batch            %8.0f calls/s  (%d failed)"):format(
  library, library_failed))
print(("  plain libcurl multi (C)  %8.0f calls/s  (%d failed)"):format(
  baseline, baseline_failed))
print(("  ratio                    %8.2f   (target >= 0.8)"):format(
  library / (baseline > 0 and baseline or 1)))
