-- Starts and stops a private CFS emulator for specs, signs and sends
-- requests to it, and drives its admin endpoint.
--
--   local emulator = require("spec.helpers.emulator")
--   local em = emulator.start({ workers = 1 })
--   local response = em:call("DescribeDataFlow", {})
--   em:fault({ kind = "error", code = "InternalError", count = 1 })
--   em:stop()
--
-- Signing uses cfs.core's sign when it is built, else the openssl CLI.
local http = require("socket.http")
local ltn12 = require("ltn12")
local socket = require("socket")
local cjson = require("cjson")

local M = {}

local files = require("spec.helpers.files")
local shell_quote, capture = files.shell_quote, files.capture

local function temp_file(data)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  return path
end

local function to_hex(bytes)
  return (bytes:gsub(".", function(c)
    return string.format("%02x", c:byte())
  end))
end

local function from_hex(hex)
  return (hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

-- Runs openssl dgst over data; returns lowercase hex.
local function dgst(args, data)
  local path = temp_file(data)
  local out = capture("openssl dgst -sha256 -r " .. args .. " "
                      .. shell_quote(path))
  os.remove(path)
  local hex = out:match("^(%x+)")
  assert(hex, "openssl dgst failed: " .. out)
  return hex
end

function M.sha256_hex(data)
  return dgst("", data)
end

local function hmac(key, data)
  return from_hex(dgst("-mac HMAC -macopt hexkey:" .. to_hex(key), data))
end

local signing_keys = {}

local function signing_key(secret_key, date, service)
  local id = secret_key .. "/" .. date .. "/" .. service
  if not signing_keys[id] then
    signing_keys[id] = hmac(hmac(hmac("TC3" .. secret_key, date), service),
                            "tc3_request")
  end
  return signing_keys[id]
end

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- t: secret_id, secret_key, timestamp, service, host, content_type, body,
-- and optionally signed = { {name, value}, ... } beyond content-type/host.
local function openssl_sign(t)
  local signed = { { "content-type", t.content_type }, { "host", t.host } }
  for _, pair in ipairs(t.signed or {}) do signed[#signed + 1] = pair end
  table.sort(signed, function(a, b) return a[1] < b[1] end)
  local lines, names = {}, {}
  for i, pair in ipairs(signed) do
    lines[i] = pair[1] .. ":" .. trim(pair[2]) .. "\n"
    names[i] = pair[1]
  end
  local signed_headers = table.concat(names, ";")
  local canonical = table.concat({ "POST", "/", "", table.concat(lines),
    signed_headers, M.sha256_hex(t.body) }, "\n")
  local date = os.date("!%Y-%m-%d", t.timestamp)
  local scope = date .. "/" .. t.service .. "/tc3_request"
  local to_sign = "TC3-HMAC-SHA256\n" .. t.timestamp .. "\n" .. scope
                  .. "\n" .. M.sha256_hex(canonical)
  local signature = to_hex(hmac(signing_key(t.secret_key, date, t.service),
                                to_sign))
  return string.format("TC3-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
    .. "Signature=%s", t.secret_id, scope, signed_headers, signature)
end

-- cfs.core's signer when it is built (much faster than openssl runs).
local core_signer

local function find_core_signer()
  if core_signer ~= nil then return core_signer end
  core_signer = false
  local ok, core = pcall(require, "cfs.core")
  if ok and type(core) == "table" then
    if core.sign then
      core_signer = core.sign
    elseif core.signer then
      local signer = core.signer()
      core_signer = function(t)
        return signer:sign(t.secret_id, t.secret_key, t.timestamp, t.service,
                           t.host, t.content_type, t.body)
      end
    end
  end
  return core_signer
end

-- CFS_SPEC_OPENSSL_SIGN=1 forces the openssl path (an independent check).
function M.sign(t)
  local sign = not t.signed and not os.getenv("CFS_SPEC_OPENSSL_SIGN")
               and find_core_signer()
  if sign then return sign(t) end
  return openssl_sign(t)
end

local Emulator = {}
Emulator.__index = Emulator

-- The tree: two directories above this file.
local function tree_root()
  local source = debug.getinfo(1, "S").source:sub(2)
  if source:sub(1, 1) ~= "/" then
    source = capture("pwd"):gsub("%s+$", "") .. "/" .. source
  end
  return (source:gsub("/%./", "/"):gsub("/spec/helpers/[^/]*$", ""))
end
local ROOT = tree_root()
M.ROOT = ROOT

-- The emulator's default.json as a table, to change and pass as config.
function M.default_config()
  local f = assert(io.open(ROOT .. "/lua/cfs/emulator/default.json", "rb"))
  local config = cjson.decode(f:read("*a"))
  f:close()
  return config
end

-- opts: workers, config (path or a table written to a temp file),
-- state_dir, dir, port, http_port, admin_port.
function M.start(opts)
  opts = opts or {}
  local args = { ROOT .. "/bin/cfs-emulator", "start" }
  local function add(flag, value)
    if value then
      args[#args + 1] = flag
      args[#args + 1] = tostring(value)
    end
  end
  local config = opts.config
  if type(config) == "table" then config = temp_file(cjson.encode(config)) end
  add("--dir", opts.dir)
  add("--config", config)
  add("--state-dir", opts.state_dir)
  add("--workers", opts.workers)
  add("--port", opts.port)
  add("--http-port", opts.http_port)
  add("--admin-port", opts.admin_port)
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = shell_quote(a) end
  local out = capture(table.concat(quoted, " ") .. " 2>&1")
  local em = setmetatable({ output = out }, Emulator)
  for name, value in out:gmatch("([%w_]+)=([^\n]*)") do em[name] = value end
  assert(em.admin_endpoint, "emulator did not start: " .. out)
  em.own_dir = opts.dir == nil
  M.current = em
  return em
end

-- Stops the emulator; its temporary dir goes too unless the spec chose
-- the dir or CFS_SPEC_KEEP is set (to read its logs).
function Emulator:stop()
  local out = capture(shell_quote(ROOT .. "/bin/cfs-emulator") .. " stop --dir "
                      .. shell_quote(self.dir) .. " 2>&1")
  if self.own_dir and not os.getenv("CFS_SPEC_KEEP")
     and self.dir:find("/cfs%-emulator%.") then
    os.execute("rm -rf " .. shell_quote(self.dir))
  end
  return out
end

function Emulator:status()
  return capture(shell_quote(ROOT .. "/bin/cfs-emulator") .. " status --dir "
                 .. shell_quote(self.dir) .. " 2>&1")
end

-- Plain HTTP request; returns status, body, headers.
local function request(method, url, body, headers)
  local chunks = {}
  headers = headers or {}
  if body then headers["content-length"] = tostring(#body) end
  local _, status, response_headers = http.request({ method = method,
    url = url, headers = headers, sink = ltn12.sink.table(chunks),
    source = body and ltn12.source.string(body) or nil })
  return status, table.concat(chunks), response_headers
end
M.request = request

function Emulator:admin(method, path, value)
  local body = value and cjson.encode(value) or nil
  local status, text = request(method, self.admin_endpoint .. path, body,
    body and { ["content-type"] = "application/json" } or nil)
  local ok, decoded = pcall(cjson.decode, text)
  return ok and decoded or text, status
end

function Emulator:fault(t) return self:admin("POST", "/faults", t) end
function Emulator:clear_faults() return self:admin("DELETE", "/faults") end
function Emulator:reset() return self:admin("POST", "/reset") end
function Emulator:settings(t) return self:admin("PUT", "/settings", t) end
function Emulator:flows() return self:admin("GET", "/flows").flows end
function Emulator:requests() return self:admin("GET", "/requests").requests end

-- The headers of a signed request, as a list of {name, value}.
-- o: action, body, region, timestamp, secret_id, secret_key, token,
-- version, host, content_type, omit (set of header names to leave out),
-- extra (list of {name, value}), authorization (replaces the signature).
function Emulator:signed_headers(o)
  local host = o.host or "cfs.tencentcloudapi.com"
  local content_type = o.content_type or "application/json"
  local timestamp = o.timestamp or os.time()
  local authorization = o.authorization or M.sign({
    secret_id = o.secret_id or self.secret_id,
    secret_key = o.secret_key or self.secret_key,
    timestamp = timestamp, service = o.service or "cfs", host = host,
    content_type = content_type, body = o.body })
  local list = {
    { "Host", host }, { "Content-Type", content_type },
    { "X-TC-Action", o.action }, { "X-TC-Version", o.version or "2019-07-19" },
    { "X-TC-Timestamp", tostring(timestamp) },
    { "X-TC-Region", o.region or "ap-guangzhou" },
    { "Authorization", authorization },
  }
  if o.token then list[#list + 1] = { "X-TC-Token", o.token } end
  local out, omit = {}, o.omit or {}
  for _, pair in ipairs(list) do
    if not omit[pair[1]] then out[#out + 1] = pair end
  end
  for _, pair in ipairs(o.extra or {}) do out[#out + 1] = pair end
  return out
end

-- Sends bytes over a fresh TCP connection to the plain HTTP port; returns
-- status (number or nil when the connection closed without an answer),
-- headers (lower-cased names) and body.
function Emulator:raw(bytes, timeout)
  local port = tonumber(self.http_endpoint:match(":(%d+)$"))
  local conn = assert(socket.connect("127.0.0.1", port))
  conn:settimeout(timeout or 10)
  conn:send(bytes)
  local line = conn:receive("*l")
  if not line then
    conn:close()
    return nil
  end
  local status = tonumber(line:match("^HTTP/1%.%d (%d+)"))
  local headers = {}
  while true do
    local h = conn:receive("*l")
    if not h or h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.*)$")
    if name then headers[name:lower()] = value end
  end
  local length = tonumber(headers["content-length"])
  local body = length and conn:receive(length) or conn:receive("*a") or ""
  conn:close()
  return status, headers, body
end

local function http_message(headers, body)
  local lines = { "POST / HTTP/1.1" }
  for _, pair in ipairs(headers) do
    lines[#lines + 1] = pair[1] .. ": " .. pair[2]
  end
  lines[#lines + 1] = "Content-Length: " .. #body
  lines[#lines + 1] = "Connection: close"
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
end
M.http_message = http_message

-- Signs and sends one action; params is a table (JSON-encoded) or the
-- exact body string. Returns the decoded answer (nil if not JSON),
-- the HTTP status, the headers and the raw body.
function Emulator:call(action, params, o)
  o = o or {}
  o.action = action
  o.body = type(params) == "string" and params or cjson.encode(params or {})
  local status, headers, body = self:raw(http_message(
    self:signed_headers(o), o.body))
  local ok, decoded = pcall(cjson.decode, body or "")
  return ok and decoded or nil, status, headers, body
end

-- The error code of an answer, or nil when it succeeded.
function M.code(response)
  local r = response and response.Response
  return r and r.Error and r.Error.Code
end

return M
