-- What `require "cfs"` adds over a bare interpreter, and what the first
-- call of an action adds over the second: time (os.clock), Lua heap
-- (collectgarbage "count") and resident memory (VmRSS), each measured in
-- fresh subprocesses of this interpreter, medians of `runs`. Also counts
-- the action descriptions loaded after the first call (1 expected: the
-- index is eager, descriptions load on first use).
--   lua5.4 bench/require.lua [runs]            (paths: make -s env)

local RUNS = tonumber(arg and arg[1]) or 15

-- The interpreter running this script.
local function interpreter()
  local i, name = -1, nil
  while arg and arg[i] do
    name = arg[i]
    i = i - 1
  end
  return name or "lua5.4"
end
local LUA = interpreter()

-- Prints name=value lines; run with `-e`. Each measure starts after a
-- full collection so garbage of the step before does not count.
local PROBE = [[
local function rss()
  local f = io.open "/proc/self/status"
  local kib = f and f:read "*a":match "VmRSS:%s*(%d+)"
  if f then f:close() end
  return tonumber(kib) or 0
end
local function measure(name, step)
  collectgarbage() collectgarbage()
  local kib, rss0, t0 = collectgarbage "count", rss(), os.clock()
  step()
  local dt = os.clock() - t0
  collectgarbage() collectgarbage()
  print(("%s_ms=%.3f"):format(name, dt * 1000))
  print(("%s_heap_kib=%.1f"):format(name, collectgarbage "count" - kib))
  print(("%s_rss_kib=%d"):format(name, rss() - rss0))
end
print(("bare_heap_kib=%.1f"):format(collectgarbage "count"))
print(("bare_rss_kib=%d"):format(rss()))
if MODE == "bare" then return end
local cfs
measure("require_core", function() require "cfs.core" end)
measure("require_lua", function() cfs = require "cfs" end)
local client = cfs.new { secret_id = "AKIDEXAMPLE", secret_key = "example",
  region = "ap-guangzhou", dry_run = true, pacer = false }
measure("first_call", function()
  assert(client:describe_data_flow { Limit = 1 })
end)
local loaded, total = 0, 0
for name in pairs(package.loaded) do
  if name:find "^cfs%.api%.actions%." then loaded = loaded + 1 end
end
for _ in pairs(require("cfs.api").actions) do total = total + 1 end
print("action_descriptions_loaded=" .. loaded)
print("action_descriptions_total=" .. total)
measure("second_call", function()
  assert(client:describe_data_flow { Limit = 1 })
end)
]]

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function probe(mode)
  local command = shell_quote(LUA) .. " -e "
    .. shell_quote("MODE = '" .. mode .. "'\n" .. PROBE)
  local pipe = assert(io.popen(command))
  local values = {}
  for line in pipe:lines() do
    local name, value = line:match "^([%w_]+)=(.*)$"
    if name then values[name] = tonumber(value) end
  end
  pipe:close()
  return values
end

local function median(list)
  table.sort(list)
  local n = #list
  if n % 2 == 1 then return list[(n + 1) / 2] end
  return (list[n / 2] + list[n / 2 + 1]) / 2
end

local samples = {}
local function add(values, prefix)
  for name, value in pairs(values) do
    local key = prefix .. name
    samples[key] = samples[key] or {}
    table.insert(samples[key], value)
  end
end
for _ = 1, RUNS do
  add(probe "bare", "bare.")
  add(probe "cfs", "")
end

local function m(name) return median(samples[name]) end

print(("require: %s, medians of %d fresh processes"):format(
  jit and jit.version or _VERSION, RUNS))
print(("  bare interpreter      heap %7.1f KiB   rss %7d KiB"):format(
  m "bare.bare_heap_kib", m "bare.bare_rss_kib"))
local LABELS = { require_core = 'require "cfs.core"',
  require_lua = '+ require "cfs"', first_call = "first call",
  second_call = "second call" }
for _, step in ipairs { "require_core", "require_lua", "first_call",
    "second_call" } do
  print(("  %-20s  heap %+7.1f KiB   rss %+7d KiB   %8.3f ms"):format(
    LABELS[step], m(step .. "_heap_kib"), m(step .. "_rss_kib"),
    m(step .. "_ms")))
end
-- the medians of the sums, not the sums of the medians
local totals = {}
for name in pairs { ms = 1, heap_kib = 1, rss_kib = 1 } do
  totals[name] = {}
  for i = 1, RUNS do
    totals[name][i] = samples["require_core_" .. name][i]
      + samples["require_lua_" .. name][i]
  end
  totals[name] = median(totals[name])
end
local loaded, total = m "action_descriptions_loaded",
  m "action_descriptions_total"
print(("  action descriptions loaded after the first call: %d of %d"):format(
  loaded, total))
print(("require_cfs_ms=%.3f"):format(totals.ms))
print(("require_cfs_heap_kib=%.1f"):format(totals.heap_kib))
print(("require_cfs_rss_kib=%d"):format(totals.rss_kib))
print(("first_call_ms=%.3f"):format(m "first_call_ms"))
print(("second_call_ms=%.3f"):format(m "second_call_ms"))
print(("first_call_heap_kib=%.1f"):format(m "first_call_heap_kib"))
print(("action_descriptions_loaded=%d"):format(loaded))
-- Not a timing: loading every description on the first call is a fault.
if loaded >= total then os.exit(1) end
