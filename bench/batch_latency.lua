-- A batch of CreateDataFlow calls against an emulator that answers each
-- after 50 ms (an injected delay), rate limits off, 32 calls in flight:
-- how close the batch comes to N * 0.05 / 32 seconds, over plain HTTP
-- and over HTTPS (where 32 TLS handshakes at the start count too).
-- Prints figures.
--   lua5.4 bench/batch_latency.lua [calls] [in_flight]  (paths: make -s env)
package.path = (arg[0]:match "^(.*)/bench/" or ".") .. "/?.lua;"
  .. package.path
local common = require "bench.common"
local cfs = require "cfs"

local N = tonumber(arg[1]) or 1000
local IN_FLIGHT = tonumber(arg[2]) or 32
local DELAY = 0.05

local BUCKET =
  "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com"

local em = common.start_emulator "--workers 2"

local function run(endpoint, name)
  common.admin(em, "POST", "/reset")
  common.admin(em, "PUT", "/settings", { rate_limit = 0,
    data_flow_limit = N + 100 })
  common.admin(em, "POST", "/faults", { kind = "delay", delay = DELAY })
  local client = cfs.new { endpoint = endpoint, ca_file = em.ca_file,
    secret_id = em.secret_id, secret_key = em.secret_key,
    region = "ap-guangzhou", pacer = false }
  local list = {}
  for i = 1, N do
    list[i] = { FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
      SourceStorageAddress = BUCKET, SourcePath = "/data/",
      TargetPath = "/cfs/" .. name .. i .. "/", SecretId = "AKIDcosBench",
      SecretKey = "bench-cos-secret", DataFlowName = name .. i }
  end
  local _, summary = client:create_data_flows(list,
    { concurrency = IN_FLIGHT })
  client:close()
  local flows = common.admin(em, "GET", "/flows").flows
  return summary, #flows
end

local plain, plain_flows = run(em.http_endpoint, "plain")
local tls, tls_flows = run(em.endpoint, "tls")
common.stop_emulator(em)

local ideal = N * DELAY / IN_FLIGHT
print(("batch_latency: %s, %d CreateDataFlow, %d in flight, %g s "
  .. "injected delay"):format(jit and jit.version or _VERSION, N,
  IN_FLIGHT, DELAY))
print(("  ideal                      %8.3f s"):format(ideal))
for _, r in ipairs { { "HTTP ", plain, plain_flows },
    { "HTTPS", tls, tls_flows } } do
  local s = r[2]
  print(("  %s elapsed              %8.3f s  ratio %.2f (target <= 1.15)")
    :format(r[1], s.elapsed, s.elapsed / ideal))
  print(("  %s succeeded %d, failed %d, attempts %d, flows stored %d")
    :format(r[1], s.succeeded, s.failed, s.attempts, r[3]))
end
