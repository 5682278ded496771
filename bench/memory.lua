-- Resident memory while making 100,000 calls to the emulator (keep-alive
-- HTTP, rate limit off): it must stay flat. Prints RSS at checkpoints.
--   lua5.4 bench/memory.lua [calls]            (paths: make -s env)
package.path = (arg[0]:match "^(.*)/bench/" or ".") .. "/?.lua;"
  .. package.path
local common = require "bench.common"
local cfs = require "cfs"

local N = tonumber(arg[1]) or 100000
local em = common.start_emulator "--workers 1"
common.admin(em, "PUT", "/settings", { rate_limit = 0 })
local c = cfs.new { secret_id = em.secret_id, secret_key = em.secret_key,
  region = "ap-guangzhou", endpoint = em.http_endpoint, pacer = false }

print(("memory: %s, %d calls"):format(jit and jit.version or _VERSION, N))
print(("  %8s calls  %7.1f MiB"):format(0, common.rss_kib() / 1024))
local checkpoint = N / 10
for i = 1, N do
  local res, err = c:describe_data_flow { Limit = 1 }
  if not res then error(tostring(err)) end
  if i % checkpoint == 0 then
    print(("  %8d calls  %7.1f MiB"):format(i, common.rss_kib() / 1024))
  end
end
common.stop_emulator(em)
