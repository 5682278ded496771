--- The HTTP getter the role providers use, replaceable through their
-- `http` option: a function
--   request(method, url, headers, body, opts) -> status, body | nil, err
-- `headers` is a list of "Name: value" strings; `opts` holds `timeout`,
-- `connect_timeout`, `ca_file`, `proxy` (`""`: no proxy); `err` is a
-- cfs error object whose code is one of cfs.errors' transport codes.
--
-- The default, chosen on first use: cfs.core's libcurl, else (cfs.core
-- not built) luasocket's socket.http, plain http only. Under OpenResty,
-- POSTs (STS) go through cfs.transport.resty when it is installed.
-- TODO: that transport speaks POST to "/" only, so the metadata GETs
-- still block the nginx worker (for milliseconds, at each refresh).

local errors = require "cfs.errors"

local pcall, require, type, ipairs, tostring = pcall, require, type,
  ipairs, tostring
local match = string.match

local M = {}


local function failure(code, message)
  return nil, errors.new { code = code, message = message }
end


local function via_core(core)
  return function(method, url, headers, body, opts)
    local client = core.http {
      method = method, timeout = opts.timeout, ca_file = opts.ca_file,
      connect_timeout = opts.connect_timeout, proxy = opts.proxy,
    }
    local status, answer, message = client:request(url, headers,
      body or "", method == "GET")
    client:close()
    if not status then return failure(answer, message) end
    return status, answer
  end
end


local function via_resty(transport)
  return function(method, url, headers, body, opts)
    local t = transport.new {
      timeout = opts.timeout, connect_timeout = opts.connect_timeout,
      ca_file = opts.ca_file, endpoint = url,
    }
    local status, answer, message = t:send { method = method, url = url,
      headers = headers, body = body or "", idempotent = method == "GET" }
    if t.close then t:close() end
    if not status then return failure(answer, message) end
    return status, answer
  end
end


-- luasocket's codes, in cfs.errors' terms.
local function socket_code(reason)
  if reason == "timeout" then return "Timeout" end
  if reason == "connection refused" or match(reason or "", "host") then
    return "ConnectError"
  end
  return "NetworkError"
end


local function via_luasocket()
  local socket, http = require "socket", require "socket.http"
  local ltn12 = require "ltn12"
  return function(method, url, headers, body, opts)
    if not match(url, "^http://") then
      return failure("ConnectError", "https needs cfs.core (luasocket "
        .. "fallback speaks plain http only)")
    end
    local map = {}
    for _, line in ipairs(headers) do
      local name, value = match(line, "^([^:]+):%s*(.*)$")
      if name then map[name:lower()] = value end
    end
    if body and body ~= "" then map["content-length"] = #body end
    local chunks = {}
    local ok, status = http.request {
      url = url, method = method, headers = map,
      source = body and body ~= "" and ltn12.source.string(body) or nil,
      sink = ltn12.sink.table(chunks),
      create = function()
        local tcp = socket.tcp()
        tcp:settimeout(opts.timeout or 5)
        return tcp
      end,
    }
    if not ok then return failure(socket_code(status), tostring(status)) end
    return status, table.concat(chunks)
  end
end


local default

--- The default getter (see the module's header).
function M.default()
  if default then return default end
  local ok, core = pcall(require, "cfs.core")
  if ok and type(core) == "table" and core.http then
    default = via_core(core)
  else
    default = via_luasocket()
  end
  if type(ngx) == "table" and ngx.socket and ngx.get_phase then
    local found, transport = pcall(require, "cfs.transport.resty")
    if found and type(transport) == "table" then
      local post, get = via_resty(transport), default
      default = function(method, ...)
        if method == "POST" then return post(method, ...) end
        return get(method, ...)
      end
    end
  end
  return default
end

M.via_core, M.via_luasocket, M.via_resty = via_core, via_luasocket,
  via_resty

return M
