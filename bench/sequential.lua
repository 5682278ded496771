-- Sequential calls over keep-alive HTTP to the emulator (rate limit off),
-- against a plain libcurl loop in C posting the same pre-signed request in
-- the same run. Prints both and their ratio.
--   lua5.4 bench/sequential.lua [calls]        (paths: make -s env)
package.path = (arg[0]:match "^(.*)/bench/" or ".") .. "/?.lua;"
  .. package.path
local common = require "bench.common"
local cfs = require "cfs"
local core = require "cfs.core"

local N = tonumber(arg[1]) or 5000
local root = common.root
local em = common.start_emulator "--workers 1"
common.admin(em, "PUT", "/settings", { rate_limit = 0 })

local function client(opts)
  local o = { secret_id = em.secret_id, secret_key = em.secret_key,
    region = "ap-guangzhou", endpoint = em.http_endpoint, pacer = false }
  for k, v in pairs(opts or {}) do o[k] = v end
  return cfs.new(o)
end

-- The library: each call validated, encoded, signed, sent and decoded.
local c = client()
local function library_run()
  local start = core.monotonic()
  for _ = 1, N do
    local res, err = c:describe_data_flow { Limit = 1 }
    if not res then error(tostring(err)) end
  end
  return N / (core.monotonic() - start)
end

-- The baseline: one request signed once, posted N times by plain C.
local req = assert(client { dry_run = true }:describe_data_flow { Limit = 1 })
local work = os.tmpname()
local hf = assert(io.open(work .. ".h", "w"))
local bf = assert(io.open(work .. ".b", "w"))
hf:write(table.concat(req.headers, "\n"), "\n")
bf:write(req.body)
hf:close()
bf:close()
local exe = work .. ".curl_loop"
assert(os.execute(("cc -O2 -o %s %s/bench/curl_loop.c $(pkg-config --cflags "
  .. "--libs libcurl)"):format(common.shell_quote(exe),
  common.shell_quote(root))))
local function baseline_run(n)
  local pipe = assert(io.popen(("%s %s %s %s %d"):format(exe,
    common.shell_quote(req.url), work .. ".h", work .. ".b", n)))
  local rate = tonumber(pipe:read "*a":match "^(%S+)")
  pipe:close()
  return rate or 0
end

-- The emulator's LuaJIT warms up on the first thousands of requests:
-- warm it first, then take the best of three runs each, interleaved.
baseline_run(N)
for _ = 1, 200 do assert(c:describe_data_flow { Limit = 1 }) end
local library, baseline = 0, 0
for _ = 1, 3 do
  library = math.max(library, library_run())
  baseline = math.max(baseline, baseline_run(N))
end
os.remove(work) os.remove(work .. ".h") os.remove(work .. ".b") os.remove(exe)
common.stop_emulator(em)

print(("sequential: %s, %d calls a run, best of 3, keep-alive HTTP to one "
  .. "emulator worker"):format(jit and jit.version or _VERSION, N))
print(("  library                 %8.0f calls/s"):format(library))
print(("  plain libcurl loop (C)  %8.0f calls/s"):format(baseline or 0))
print(("  ratio                   %8.2f"):format(library / (baseline or 1)))
