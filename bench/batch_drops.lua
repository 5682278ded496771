-- A batch of 500 CreateDataFlow calls while the emulator drops a fifth of
-- the connections after acting (a close_after fault with ratio 0.2): each
-- dropped create is looked for and found, none is made twice. Prints the
-- flows the emulator holds afterwards (target: exactly the calls made).
--   lua5.4 bench/batch_drops.lua [calls] [in_flight]   (paths: make -s env)
package.path = (arg[0]:match "^(.*)/bench/" or ".") .. "/?.lua;"
  .. package.path
local common = require "bench.common"
local cfs = require "cfs"

local N = tonumber(arg[1]) or 500
local IN_FLIGHT = tonumber(arg[2]) or 16
local RATIO = 0.2

local BUCKET =
  "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com"

local em = common.start_emulator "--workers 2"
common.admin(em, "PUT", "/settings", { rate_limit = 0,
  data_flow_limit = N + 100 })
common.admin(em, "POST", "/faults", { kind = "close_after", ratio = RATIO,
  action = "CreateDataFlow" })

local client = cfs.new { endpoint = em.endpoint, ca_file = em.ca_file,
  secret_id = em.secret_id, secret_key = em.secret_key,
  region = "ap-guangzhou", pacer = false }
local list = {}
for i = 1, N do
  list[i] = { FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
    SourceStorageAddress = BUCKET, SourcePath = "/data/",
    TargetPath = "/cfs/drop" .. i .. "/", SecretId = "AKIDcosBench",
    SecretKey = "bench-cos-secret", DataFlowName = "drop" .. i }
end

local results, summary = client:create_data_flows(list,
  { concurrency = IN_FLIGHT })
local recovered = 0
for _, r in ipairs(results) do
  if r.ok and r.value.Recovered then recovered = recovered + 1 end
end
local dropped, creates = 0, 0
for _, r in ipairs(common.admin(em, "GET", "/requests").requests) do
  if r.action == "CreateDataFlow" then
    creates = creates + 1
    if r.fault == "close_after" then dropped = dropped + 1 end
  end
end
local flows = common.admin(em, "GET", "/flows").flows
common.stop_emulator(em)

print(("batch_drops: %s, %d CreateDataFlow, %d in flight, %.0f%% of "
  .. "creates dropped after acting, HTTPS"):format(
  jit and jit.version or _VERSION, N, IN_FLIGHT, RATIO * 100))
print(("  flows in the emulator   %6d   (target %d)"):format(#flows, N))
print(("  connections dropped     %6d   of %d creates received"):format(
  dropped, creates))
print(("  recovered by a search   %6d"):format(recovered))
print(("  succeeded %d, failed %d, attempts %d, elapsed %.3f s"):format(
  summary.succeeded, summary.failed, summary.attempts, summary.elapsed))
for code, n in pairs(summary.by_code) do
  print(("  failed with %s: %d"):format(code, n))
end
