-- What the benches share: an emulator of their own, its admin endpoint,
-- the tree's paths. Benches print figures; they assert nothing.
local cjson = require "cjson"

local common = {}

common.root = (arg and arg[0] or ""):match "^(.*)/bench/[^/]*$" or "."

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
common.shell_quote = shell_quote

--- Starts an emulator (extra: a string of extra arguments); returns its
-- printed values as a table.
function common.start_emulator(extra)
  local dir = os.tmpname()
  os.remove(dir)
  local cmd = shell_quote(common.root .. "/bin/cfs-emulator")
    .. " start --dir " .. shell_quote(dir) .. " " .. (extra or "")
  local pipe = assert(io.popen(cmd))
  local em = {}
  for line in pipe:lines() do
    local k, v = line:match "^([%w_]+)=(.*)$"
    if k then em[k] = v end
  end
  pipe:close()
  assert(em.admin_endpoint, "the emulator did not start")
  return em
end

function common.stop_emulator(em)
  os.execute(shell_quote(common.root .. "/bin/cfs-emulator") .. " stop --dir "
    .. shell_quote(em.dir) .. " >/dev/null 2>&1")
  os.execute("rm -rf " .. shell_quote(em.dir))
end

--- One admin request; returns the decoded answer. Through the curl
-- command, so that no HTTP library of Lua weighs on the memory figures.
function common.admin(em, method, path, value)
  local cmd = "curl -s -X " .. method .. " " .. shell_quote(em.admin_endpoint
    .. path)
  if value then
    cmd = cmd .. " -H 'content-type: application/json' --data-binary "
      .. shell_quote(cjson.encode(value))
  end
  local pipe = assert(io.popen(cmd))
  local text = pipe:read "*a"
  pipe:close()
  local ok, decoded = pcall(cjson.decode, text)
  return ok and decoded or nil
end

--- Resident memory of this process, in KiB.
function common.rss_kib()
  local f = io.open "/proc/self/status"
  if not f then return nil end
  local text = f:read "*a"
  f:close()
  return tonumber(text:match "VmRSS:%s*(%d+)")
end

return common
