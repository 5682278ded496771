-- A batch of 200 CreateDataFlow calls with the emulator enforcing 20
-- calls a second and the client's pacer on (its default): the elapsed
-- time (about 10 s is the limit's own pace) and how many
-- RequestLimitExceeded the caller saw and the emulator's request log
-- holds. Prints figures.
--   lua5.4 bench/batch_paced.lua [calls] [in_flight]   (paths: make -s env)
package.path = (arg[0]:match "^(.*)/bench/" or ".") .. "/?.lua;"
  .. package.path
local common = require "bench.common"
local cfs = require "cfs"

local N = tonumber(arg[1]) or 200
local IN_FLIGHT = tonumber(arg[2]) or 8
local RATE = 20

local BUCKET =
  "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com"

local em = common.start_emulator "--workers 2"
common.admin(em, "PUT", "/settings", { rate_limit = RATE,
  data_flow_limit = N + 100 })

local client = cfs.new { endpoint = em.endpoint, ca_file = em.ca_file,
  secret_id = em.secret_id, secret_key = em.secret_key,
  region = "ap-guangzhou" }
local list = {}
for i = 1, N do
  list[i] = { FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
    SourceStorageAddress = BUCKET, SourcePath = "/data/",
    TargetPath = "/cfs/paced" .. i .. "/", SecretId = "AKIDcosBench",
    SecretKey = "bench-cos-secret", DataFlowName = "paced" .. i }
end

-- What the caller sees: every attempt's failure passes through read_answer.
local seen = 0
local read_answer = client.read_answer
client.read_answer = function(self, ...)
  local response, err, date = read_answer(self, ...)
  if err and err.code:find "^RequestLimitExceeded" then seen = seen + 1 end
  return response, err, date
end

local _, summary = client:create_data_flows(list,
  { concurrency = IN_FLIGHT })
local logged = 0
for _, r in ipairs(common.admin(em, "GET", "/requests").requests) do
  if r.code:find "^RequestLimitExceeded" then logged = logged + 1 end
end
common.stop_emulator(em)

print(("batch_paced: %s, %d CreateDataFlow, %d in flight, emulator limit "
  .. "%d/s, HTTPS"):format(jit and jit.version or _VERSION, N, IN_FLIGHT,
  RATE))
print(("  elapsed                          %8.3f s  (limit's pace: %.1f s)")
  :format(summary.elapsed, (N - 1) / RATE))
print(("  RequestLimitExceeded, caller     %8d    (target 0)"):format(seen))
print(("  RequestLimitExceeded, emulator   %8d    (target 0)"):format(logged))
print(("  succeeded %d, failed %d, attempts %d"):format(summary.succeeded,
  summary.failed, summary.attempts))
