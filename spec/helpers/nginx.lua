-- Starts a private nginx with the Lua module for specs, on loopback, with
-- the tree's lua/ and build/jit/ on its paths; and sends it requests, many
-- at once, with the curl CLI.
--
--   local nginx = require("spec.helpers.nginx")
--   local ng = nginx.start { workers = 1, http = "...", server = "..." }
--   local status, body = ng:get("/health")
--   ng:stop()
local socket = require("socket")
local emulator = require("spec.helpers.emulator")

local M = {}
local ROOT = emulator.ROOT

local files = require("spec.helpers.files")
local shell_quote, capture = files.shell_quote, files.capture
local write_file, read_file = files.write_file, files.read_file
M.shell_quote = shell_quote

M.read_file = read_file

-- os.execute's success, under Lua 5.4 (true) and LuaJIT (0) alike.
local function succeeded(result)
  return result == true or result == 0
end

function M.free_port()
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  server:close()
  return tonumber(port)
end

local TEMPLATE = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
%s
daemon on;
worker_processes %d;
pid %s/nginx.pid;
lock_file %s/nginx.lock;

events {
  worker_connections 4096;
}

http {
  client_body_temp_path %s/tmp;
  proxy_temp_path %s/tmp;
  fastcgi_temp_path %s/tmp;
  uwsgi_temp_path %s/tmp;
  scgi_temp_path %s/tmp;
  access_log off;
  lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;;";
  lua_package_cpath "%s/build/jit/?.so;;";
  lua_socket_log_errors off;
%s
  server {
    listen 127.0.0.1:%d;
    location = /health {
      content_by_lua_block { ngx.say("ok") }
    }
%s
  }
}
]]

local Nginx = {}
Nginx.__index = Nginx

-- opts: workers (default 1), http (text inside http {}), server (text
-- inside server {}), main (text at the top level).
function M.start(opts)
  local dir = capture("mktemp -d -t cfs-nginx.XXXXXX"):gsub("%s+$", "")
  os.execute("mkdir -p " .. shell_quote(dir .. "/tmp"))
  local port = M.free_port()
  local user = ""
  if capture("id -u"):match("^0%s") then
    user = ("user %s %s;"):format((capture("id -un"):gsub("%s+$", "")),
      (capture("id -gn"):gsub("%s+$", "")))
  end
  local conf = TEMPLATE:format(user .. "\n" .. (opts.main or ""),
    opts.workers or 1, dir, dir, dir, dir, dir, dir, dir, ROOT, ROOT, ROOT,
    opts.http or "", port, opts.server or "")
  write_file(dir .. "/nginx.conf", conf)
  local log = dir .. "/error.log"
  local ok = os.execute("nginx -p " .. shell_quote(dir) .. " -c "
    .. shell_quote(dir .. "/nginx.conf") .. " -e " .. shell_quote(log)
    .. " >>" .. shell_quote(log) .. " 2>&1")
  local self = setmetatable({ dir = dir, port = port,
    url = "http://127.0.0.1:" .. port }, Nginx)
  assert(succeeded(ok), "nginx did not start: "
    .. tostring(read_file(log)))
  for _ = 1, 200 do
    if self:get("/health") == 200 then return self end
    socket.sleep(0.05)
  end
  self:stop()
  error("nginx does not answer /health: " .. tostring(read_file(log)))
end

function Nginx:log()
  return read_file(self.dir .. "/error.log") or ""
end

-- One request with luasocket: status, body.
function Nginx:get(path)
  local http = require("socket.http")
  local ltn12 = require("ltn12")
  local chunks = {}
  local _, status = http.request { url = self.url .. path,
    sink = ltn12.sink.table(chunks) }
  return status, table.concat(chunks)
end

-- Starts `paths` at once (at most `parallel` at a time, default all) with
-- curl --parallel; each answer goes to its own file. Returns a handle:
-- handle:wait() -> { {status=, time=, body=}, ... } in the order of
-- `paths`, and the wall time it finished at.
function Nginx:start_many(paths, parallel)
  local batch = capture("mktemp -d -t cfs-load.XXXXXX"):gsub("%s+$", "")
  local lines = {}
  for i, path in ipairs(paths) do
    lines[#lines + 1] = ('url = "%s%s"\noutput = "%s/%d.out"'):format(
      self.url, path, batch, i)
  end
  write_file(batch .. "/curl.conf", table.concat(lines, "\n") .. "\n")
  -- --parallel-immediate: open every connection at once instead of
  -- waiting to see whether transfers could share one.
  local pipe = assert(io.popen("curl --silent --no-progress-meter "
    .. "--parallel --parallel-immediate --parallel-max "
    .. math.min(parallel or #paths, 300) .. " --max-time 60 --config "
    .. shell_quote(batch .. "/curl.conf")
    .. " --write-out '%{url} %{http_code} %{time_total}\\n' 2>/dev/null"))
  return { wait = function()
    local out = pipe:read("a")
    pipe:close()
    local finished = socket.gettime()
    local by_url = {}
    for url, status, time in out:gmatch("(%S+) (%d+) ([%d%.]+)\n") do
      by_url[url] = { status = tonumber(status), time = tonumber(time) }
    end
    local results = {}
    for i, path in ipairs(paths) do
      local r = by_url[self.url .. path] or {}
      r.body = read_file(("%s/%d.out"):format(batch, i))
      results[i] = r
    end
    os.execute("rm -rf " .. shell_quote(batch))
    return results, finished
  end }
end

-- Stops nginx (QUIT, then TERM) by the pid it wrote, and removes its dir
-- unless CFS_SPEC_KEEP is set.
function Nginx:stop()
  local pid = tonumber((read_file(self.dir .. "/nginx.pid") or ""):match(
    "%d+"))
  if pid then
    os.execute("kill -QUIT " .. pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if not succeeded(os.execute("kill -0 " .. pid .. " 2>/dev/null")) then
        break
      end
      socket.sleep(0.05)
    end
    os.execute("kill -TERM " .. pid .. " 2>/dev/null")
  end
  if not os.getenv("CFS_SPEC_KEEP") and self.dir:find("/cfs%-nginx%.") then
    os.execute("rm -rf " .. shell_quote(self.dir))
  end
end

return M
