-- A CVM instance metadata service for specs, on loopback: a luasocket
-- server in its own process that serves a CAM role's name and temporary
-- keys, and counts what it is asked.
--
--   local metadata = require("spec.helpers.metadata")
--   local md = metadata.start({ role = "cfs-test-role",
--     sts = { endpoint = em.http_endpoint, secret_id = em.secret_id,
--             secret_key = em.secret_key, role_arn = ROLE },
--     duration = 3600 })
--   md.url                     -- the metadata_url to give cfs_role
--   md:counts()                -- { role = n, keys = n, total = n }
--   md:set({ duration = 60, clock_offset = 4000, fail = 1 })
--   md:stop()
--
-- Keys come from the emulator's STS (AssumeRole signed with the given
-- keys, DurationSeconds = duration, timestamps moved by clock_offset to
-- follow the emulator's clock), or, without `sts`, are the fixed `keys`
-- ({ TmpSecretId, TmpSecretKey, Token, ExpiredTime }). `role = false`
-- serves no role (HTTP 404, a CVM with none bound); `fail = n` answers
-- the next n key requests with HTTP 500.
local socket = require("socket")
local cjson = require("cjson")

local M = {}

local ROLE_PATH = "/latest/meta-data/cam/security-credentials/"

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- ---- the server (runs in the child process) ----------------------------

local function answer(conn, status, body, content_type)
  conn:send(string.format("HTTP/1.1 %d X\r\nContent-Type: %s\r\n"
    .. "Content-Length: %d\r\nConnection: close\r\n\r\n%s", status,
    content_type or "text/plain", #body, body))
end

local function read_request(conn)
  local line = conn:receive("*l")
  if not line then return nil end
  local method, path = line:match("^(%u+) (%S+) HTTP/1%.%d$")
  local length = 0
  while true do
    local h = conn:receive("*l")
    if not h or h == "" then break end
    local n = h:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if n then length = tonumber(n) end
  end
  local body = length > 0 and conn:receive(length) or ""
  return method, path, body
end

-- AssumeRole at the emulator's STS; the keys answer, or nil, why.
local function assume_role(config)
  local emulator = require("spec.helpers.emulator")
  local sts = config.sts
  local timestamp = math.floor(os.time() + (config.clock_offset or 0))
  local host = sts.endpoint:match("^https?://([^/]+)")
  local body = cjson.encode({ RoleArn = sts.role_arn,
    RoleSessionName = "metadata-helper", DurationSeconds = config.duration })
  local authorization = emulator.sign({ secret_id = sts.secret_id,
    secret_key = sts.secret_key, timestamp = timestamp, service = "sts",
    host = host, content_type = "application/json", body = body })
  local status, text = emulator.request("POST", sts.endpoint .. "/", body, {
    ["host"] = host, ["content-type"] = "application/json",
    ["authorization"] = authorization, ["x-tc-action"] = "AssumeRole",
    ["x-tc-version"] = "2018-08-13", ["x-tc-region"] = "ap-guangzhou",
    ["x-tc-timestamp"] = string.format("%d", timestamp) })
  local ok, decoded = pcall(cjson.decode, text or "")
  local response = ok and type(decoded) == "table" and decoded.Response
  if status ~= 200 or not response or not response.Credentials then
    return nil, "sts said " .. tostring(status) .. " " .. tostring(text)
  end
  local c = response.Credentials
  return { TmpSecretId = c.TmpSecretId, TmpSecretKey = c.TmpSecretKey,
           Token = c.Token, ExpiredTime = response.ExpiredTime,
           Expiration = response.Expiration, Code = "Success" }
end

local function serve_keys(conn, config)
  if (config.fail or 0) > 0 then
    config.fail = config.fail - 1
    return answer(conn, 500, "internal error")
  end
  local keys, err = config.keys, nil
  if config.sts then keys, err = assume_role(config) end
  if not keys then return answer(conn, 502, tostring(err)) end
  answer(conn, 200, cjson.encode(keys), "application/json")
end

local function serve_control(conn, method, body, config, counts)
  if method == "POST" then
    for k, v in pairs(cjson.decode(body)) do
      if v == cjson.null then v = nil end
      config[k] = v
    end
  end
  answer(conn, 200, cjson.encode({ counts = counts }), "application/json")
end

function M.serve(config_path)
  local config = cjson.decode(assert(read_file(config_path)))
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  write_file(config.port_file .. ".tmp", tostring(port))
  os.rename(config.port_file .. ".tmp", config.port_file)
  local counts = { role = 0, keys = 0, total = 0 }
  while true do
    local conn = server:accept()
    conn:settimeout(10)
    local method, path, body = read_request(conn)
    if path == "/_control/stop" then
      answer(conn, 200, "bye")
      conn:close()
      break
    elseif path == "/_control" then
      serve_control(conn, method, body, config, counts)
    elseif method then
      counts.total = counts.total + 1
      local role = config.role
      if method ~= "GET" then
        -- The metadata service is read with GET; anything else is a bug.
        answer(conn, 405, "Method Not Allowed")
      elseif path == ROLE_PATH then
        counts.role = counts.role + 1
        if role then answer(conn, 200, role)
        else answer(conn, 404, "Not Found") end
      elseif role and path == ROLE_PATH .. role then
        counts.keys = counts.keys + 1
        serve_keys(conn, config)
      else
        answer(conn, 404, "Not Found")
      end
    end
    conn:close()
  end
  server:close()
end

-- ---- the spec's side ---------------------------------------------------

local Server = {}
Server.__index = Server

local function tree_root()
  local source = debug.getinfo(1, "S").source:sub(2)
  if source:sub(1, 1) ~= "/" then
    local pipe = io.popen("pwd")
    source = pipe:read("l") .. "/" .. source
    pipe:close()
  end
  return (source:gsub("/%./", "/"):gsub("/spec/helpers/[^/]*$", ""))
end

-- opts: role (default "cfs-test-role"; false: none), sts, keys,
-- duration (default 3600), clock_offset, fail.
function M.start(opts)
  opts = opts or {}
  local root = tree_root()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. shell_quote(dir)))
  local config = { role = opts.role == nil and "cfs-test-role" or opts.role,
    sts = opts.sts, keys = opts.keys, duration = opts.duration or 3600,
    clock_offset = opts.clock_offset, fail = opts.fail,
    port_file = dir .. "/port" }
  write_file(dir .. "/config.json", cjson.encode(config))
  local env = string.format("LUA_PATH=%s LUA_CPATH=%s",
    shell_quote(root .. "/?.lua;" .. root .. "/lua/?.lua;;"),
    shell_quote(root .. "/build/5.4/?.so;;"))
  assert(os.execute(string.format("%s lua5.4 %s %s > %s 2>&1 & echo $! > %s",
    env, shell_quote(root .. "/spec/helpers/metadata.lua"),
    shell_quote(dir .. "/config.json"), shell_quote(dir .. "/log"),
    shell_quote(dir .. "/pid"))))
  local port
  for _ = 1, 200 do
    port = read_file(dir .. "/port")
    if port then break end
    socket.sleep(0.025)
  end
  assert(port, "metadata server did not start: "
    .. tostring(read_file(dir .. "/log")))
  return setmetatable({ url = "http://127.0.0.1:" .. port, dir = dir,
    pid = tonumber(read_file(dir .. "/pid")) }, Server)
end

local function control(self, method, value)
  local emulator = require("spec.helpers.emulator")
  local body = value and cjson.encode(value) or nil
  local status, text = emulator.request(method, self.url .. "/_control",
    body)
  assert(status == 200, "metadata control failed: " .. tostring(status))
  return cjson.decode(text)
end

function Server:counts() return control(self, "GET").counts end
function Server:set(t) return control(self, "POST", t).counts end

-- Stops the server (asked first; then its own pid, only if still alive).
function Server:stop()
  local emulator = require("spec.helpers.emulator")
  pcall(emulator.request, "GET", self.url .. "/_control/stop")
  for _ = 1, 40 do
    if not os.execute("kill -0 " .. self.pid .. " 2>/dev/null") then break end
    socket.sleep(0.025)
  end
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  os.execute("rm -rf " .. shell_quote(self.dir))
end

-- Run as a script: serve.
local name = ...
if name and name ~= "spec.helpers.metadata" then
  M.serve(name)
  return
end

return M
