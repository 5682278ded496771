--- The OpenResty transport: nginx cosockets, so a call yields its light
-- thread and the worker goes on serving other requests meanwhile.
--
-- Contract as in cfs.transport.curl:
--   send(self, req) -> status, body, date | nil, code, message, sent
--
-- Phases: cosockets run in rewrite, access, content and ngx.timer
-- callbacks (and the ssl_certificate, ssl_session_fetch and
-- ssl_client_hello phases). Elsewhere (init, init_worker, set,
-- header_filter, body_filter, log...) `send` returns nil,
-- "UnsupportedPhase": it never falls back to a blocking socket. Neither
-- require nor new touches the network, so a client made in init_by_lua
-- connects lazily, in each worker.
--
-- TLS verification is always on. ngx_lua verifies the chain against the
-- file of the `lua_ssl_trusted_certificate` directive (a socket cannot be
-- given its own CA file), and the name with nginx's host check, which
-- knows DNS names only. So:
--   * the CA file must be named in nginx.conf; `ca_file` only keys the
--     connection pool and the hint of a CertificateError;
--   * an https endpoint must be a host name, not an IP address: with an
--     IP the check fails, it is never skipped;
--   * `localhost` is connected to 127.0.0.1 directly; any other name
--     needs nginx's `resolver` directive.
-- With lua-resty-http (0.16 or later) installed, its HTTP code is used,
-- with the same checks and error codes.

local ngx = ngx
local type, tonumber, tostring, error, pcall, require, ipairs =
  type, tonumber, tostring, error, pcall, require, ipairs
local setmetatable = setmetatable
local find, match, lower, format =
  string.find, string.match, string.lower, string.format
local concat = table.concat
local max, floor = math.max, math.floor

local resty = { _VERSION = "0.1" }

local Transport = {}
Transport.__index = Transport

-- Tells cfs.batch to run batches with its light-thread engine
-- (cfs.batch_resty): `send` yields only its own light thread.
Transport.light_threads = true

-- Where ngx_lua lets a cosocket run.
local COSOCKET_PHASES = {
  rewrite = true, access = true, content = true, timer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_client_hello = true,
}

local MAX_HEADER_LINES = 100
local BODY_STEP = 65536


local function option_error(message)
  error("cfs.transport.resty: " .. message, 3)
end


local function seconds(opts, name, default)
  local value = opts[name]
  if value == nil then return default end
  if type(value) ~= "number" or not (value > 0) then
    option_error("option " .. name .. " must be a number of seconds > 0")
  end
  return value
end


local function is_ip(host)
  return find(host, "^%d+%.%d+%.%d+%.%d+$") ~= nil or find(host, ":") ~= nil
end


-- scheme, host (no brackets), port of an endpoint URL.
local function parse_url(url)
  local scheme, rest = match(url or "", "^(https?)://([^/]+)/?$")
  if not scheme then
    option_error("endpoint must be an http(s) URL with no path, got '"
      .. tostring(url) .. "'")
  end
  local host, port = match(rest, "^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = match(rest, "^([^:]+):?(%d*)$") end
  if not host then option_error("cannot read the host of '" .. url .. "'") end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  return scheme, lower(host), port
end


--- opts: endpoint (URL), ca_file, timeout, connect_timeout (seconds),
-- max_response (bytes). `proxy` is refused: cosockets do not speak it.
function resty.new(opts)
  opts = opts or {}
  if opts.proxy then option_error("a proxy is not supported under nginx") end
  local max_response = opts.max_response or 16 * 1024 * 1024
  if type(max_response) ~= "number" or max_response < 1024
      or max_response > 1073741824 then
    option_error("option max_response must be in [1024, 1 GiB]")
  end
  local scheme, host, port = parse_url(opts.endpoint)
  local self = setmetatable({
    scheme = scheme, host = host, port = port,
    -- nginx resolves names only with a `resolver`; localhost needs none.
    connect_host = host == "localhost" and "127.0.0.1" or host,
    ca_file = opts.ca_file,
    timeout = seconds(opts, "timeout", 60),
    connect_timeout = seconds(opts, "connect_timeout", 10),
    max_response = max_response,
    generation = 0,
  }, Transport)
  local ok, http = pcall(require, "resty.http")
  if ok and type(http) == "table" and http.new
      and (tonumber(match(tostring(http._VERSION), "^0%.(%d+)")) or 0)
        >= 16 then
    self.resty_http = http
  end
  return self
end


-- Connections are pooled by everything that decides their security.
local function pool_name(self)
  return format("cfs:%s:%s:%d:%s:%s:%d", self.scheme, self.connect_host,
    self.port, self.host, self.ca_file or "-", self.generation)
end


local function fail(code, message, sent)
  return nil, code, message, sent
end


local function phase_check()
  local phase = ngx.get_phase()
  if COSOCKET_PHASES[phase] then return true end
  return nil, format("nginx cosockets cannot run in the %s phase "
    .. "(%s_by_lua*); call the API from rewrite, access or content "
    .. "handlers, or from a timer (ngx.timer.at)", phase, phase)
end


local function tls_error(self, err)
  err = tostring(err)
  if find(err, "^%d+: ") or find(err, "certificate") then
    local hint
    if is_ip(self.host) and not find(err, "^%d+: ") then
      hint = "nginx verifies host names only, not IP addresses; use a "
        .. "name (such as localhost) in the endpoint"
    else
      hint = "lua_ssl_trusted_certificate in nginx.conf must name the CA "
        .. "file" .. (self.ca_file and (" (" .. self.ca_file .. ")") or "")
    end
    return fail("CertificateError", "certificate of " .. self.host
      .. " not verified: " .. err .. "; " .. hint, false)
  end
  return fail("TLSError", "TLS handshake with " .. self.host .. " failed: "
    .. err, false)
end


-- Milliseconds left before the call's deadline (at least 1).
local function left_ms(deadline)
  return max(1, floor((deadline - ngx.now()) * 1000))
end


-- A connected (and verified) cosocket, or nil, code, message, sent.
--
-- The handshake always names the host: without a name ngx_lua skips the
-- host check. It always asks for the session, never passes `false`: in
-- ngx_lua 0.10.23 a handshake that completes at once with a failed
-- verification returns true when no session is asked for, and raises
-- (an assertion in resty.core) when one is; the raise is caught here.
-- The session is kept to resume the next handshake, which spares the CPU
-- of a full one; it was verified for the same host and CA.
local function connect(self, fresh)
  local sock = ngx.socket.tcp()
  sock:settimeouts(self.connect_timeout * 1000, self.timeout * 1000,
    self.timeout * 1000)
  local pool = pool_name(self)
  if fresh then pool = pool .. ":fresh" end
  local ok, err = sock:connect(self.connect_host, self.port, { pool = pool })
  if not ok then
    local code = err == "timeout" and "ConnectTimeout" or "ConnectError"
    return fail(code, "cannot connect to " .. self.host .. ":"
      .. self.port .. ": " .. tostring(err), false)
  end
  if self.scheme == "https" and sock:getreusedtimes() == 0 then
    local session
    ok, session, err = pcall(sock.sslhandshake, sock, self.ssl_session,
      self.host, true)
    if not ok then
      sock:close()
      return tls_error(self, "certificate verification failed (ngx_lua "
        .. "raised: " .. tostring(session) .. ")")
    end
    if not session then
      sock:close()
      return tls_error(self, err)
    end
    self.ssl_session = session
  end
  return sock
end


-- The request's bytes. A header given as "Name:" with no value is one
-- curl would drop (such as "Expect:"), so it is dropped here too.
local function request_bytes(req)
  local lines = { "POST / HTTP/1.1" }
  for _, header in ipairs(req.headers) do
    if not find(header, "^[^:]+:%s*$") then lines[#lines + 1] = header end
  end
  lines[#lines + 1] = "Content-Length: " .. #req.body
  lines[#lines + 1] = "\r\n"
  return concat(lines, "\r\n") .. req.body
end


-- status, headers (lower-case names), or nil, err. Skips 1xx answers.
local function read_head(sock, deadline, budget)
  while true do
    sock:settimeout(left_ms(deadline))
    local line, err = sock:receive "*l"
    if not line then return nil, err end
    local minor, status = match(line, "^HTTP/1%.([01]) (%d%d%d)")
    status = tonumber(status)
    if not status then return nil, "malformed status line" end
    -- HTTP/1.0 answers are not kept alive: fewer cases to get wrong.
    local headers, used = { [":close"] = minor == "0" }, #line
    for _ = 1, MAX_HEADER_LINES do
      line, err = sock:receive "*l"
      if not line then return nil, err end
      used = used + #line
      if used > budget then return nil, "too large" end
      if line == "" then break end
      local name, value = match(line, "^([^:%s]+):%s*(.-)%s*$")
      if not name then return nil, "malformed header line" end
      name = lower(name)
      if headers[name] and name == "content-length"
          and headers[name] ~= value then
        return nil, "conflicting Content-Length"
      end
      headers[name] = value
    end
    if line ~= "" then return nil, "too many header lines" end
    if status >= 200 then return status, headers end
  end
end


local function read_chunked(sock, deadline, budget)
  local parts, total = {}, 0
  while true do
    sock:settimeout(left_ms(deadline))
    local line, err = sock:receive "*l"
    if not line then return nil, err end
    local size = tonumber(match(line, "^(%x+)"), 16)
    if not size then return nil, "malformed chunk size" end
    if size == 0 then break end
    total = total + size
    if total > budget then return nil, "too large" end
    local data
    data, err = sock:receive(size)
    if not data then return nil, err end
    parts[#parts + 1] = data
    data, err = sock:receive(2)
    if data ~= "\r\n" then return nil, err or "malformed chunk end" end
  end
  repeat -- trailers, ignored
    local line, err = sock:receive "*l"
    if not line then return nil, err end
  until line == ""
  return concat(parts)
end


-- The body until the server closes the connection.
local function read_to_close(sock, deadline, budget)
  local parts, total = {}, 0
  while true do
    sock:settimeout(left_ms(deadline))
    local data, err = sock:receiveany(BODY_STEP)
    if not data then
      if err == "closed" then return concat(parts) end
      return nil, err
    end
    total = total + #data
    if total > budget then return nil, "too large" end
    parts[#parts + 1] = data
  end
end


-- body, reusable | nil, err ("too large", "timeout", "closed", ...).
local function read_body(sock, headers, deadline, budget)
  local te = headers["transfer-encoding"]
  if te and lower(te) ~= "chunked" then
    return nil, "unsupported Transfer-Encoding " .. te
  end
  local keep = not headers[":close"]
    and lower(headers["connection"] or "") ~= "close"
  if te then
    local body, err = read_chunked(sock, deadline, budget)
    return body, keep and body ~= nil, err
  end
  local length = headers["content-length"]
  if not length then
    return read_to_close(sock, deadline, budget), false
  end
  length = match(length, "^%d+$") and tonumber(length)
  if not length then return nil, false, "malformed Content-Length" end
  if length > budget then return nil, false, "too large" end
  if length == 0 then return "", keep end
  sock:settimeout(left_ms(deadline))
  local body, err = sock:receive(length)
  return body, keep and body ~= nil, err
end


local function read_error(self, err)
  if err == "too large" then
    return fail("ResponseTooLarge", "answer larger than the max_response "
      .. "option (" .. self.max_response .. " bytes)", true)
  end
  if err == "timeout" then
    return fail("Timeout", "no answer from " .. self.host .. " within "
      .. self.timeout .. " s", true)
  end
  return fail("NetworkError", "reading the answer of " .. self.host
    .. " failed: " .. tostring(err), true)
end


-- One exchange on one connection. The extra last value tells whether a
-- kept-alive connection died before answering anything.
local function exchange(self, req, fresh, deadline)
  local sock, code, message, sent = connect(self, fresh)
  if not sock then return nil, code, message, sent end
  local reused = sock:getreusedtimes() > 0
  sock:settimeout(left_ms(deadline))
  local ok, err = sock:send(request_bytes(req))
  if not ok then
    sock:close()
    if err == "timeout" then return read_error(self, err) end
    return nil, "NetworkError", "sending to " .. self.host .. " failed: "
      .. tostring(err), true, reused
  end
  local status, headers = read_head(sock, deadline, self.max_response)
  if not status then
    sock:close()
    local _, rcode, rmessage, rsent = read_error(self, headers)
    return nil, rcode, rmessage, rsent, reused and headers == "closed"
  end
  local body, keep, berr = read_body(sock, headers, deadline,
    self.max_response)
  if not body then
    sock:close()
    return read_error(self, berr)
  end
  -- A connection opened to replace a dead one is not pooled: its pool
  -- must stay empty so that it always gives a new connection.
  if keep and not fresh then sock:setkeepalive() else sock:close() end
  return status, body, headers["date"] or ""
end


-- Through lua-resty-http: same connection rules, same error codes.
local function exchange_resty_http(self, req, deadline)
  local httpc = self.resty_http.new()
  httpc:set_timeouts(self.connect_timeout * 1000, left_ms(deadline),
    left_ms(deadline))
  local ok, err = httpc:connect {
    scheme = self.scheme, host = self.connect_host, port = self.port,
    ssl_server_name = self.host, ssl_verify = true, pool = pool_name(self),
  }
  if not ok then
    err = tostring(err)
    if find(err, "handshake") or find(err, "certificate") then
      return tls_error(self, (err:gsub("^ssl handshake failed: ", "")))
    end
    local code = find(err, "timeout") and "ConnectTimeout" or "ConnectError"
    return fail(code, "cannot connect to " .. self.host .. ": " .. err,
      false)
  end
  local headers = {}
  for _, header in ipairs(req.headers) do
    local name, value = match(header, "^([^:]+):%s*(.-)%s*$")
    if name and value ~= "" then headers[name] = value end
  end
  headers["Content-Length"] = #req.body
  local res
  res, err = httpc:request { method = "POST", path = "/", headers = headers,
    body = req.body }
  if not res then
    httpc:close()
    return read_error(self, err)
  end
  local parts, total = {}, 0
  repeat
    local chunk
    chunk, err = res.body_reader(BODY_STEP)
    if err then httpc:close() return read_error(self, err) end
    if chunk then
      total = total + #chunk
      if total > self.max_response then
        httpc:close()
        return read_error(self, "too large")
      end
      parts[#parts + 1] = chunk
    end
  until not chunk
  httpc:set_keepalive()
  return res.status, concat(parts), res.headers["Date"] or ""
end


--- Whether a call can be made now: true, or nil, code, message when the
-- nginx phase allows no cosocket (checked before the client paces, as
-- ngx.sleep cannot run there either).
function Transport:ready()
  local ok, why = phase_check()
  if ok then return true end
  return nil, "UnsupportedPhase", why
end


function Transport:send(req)
  local ok, why = phase_check()
  if not ok then return fail("UnsupportedPhase", why, false) end
  ngx.update_time()
  local deadline = ngx.now() + self.timeout
  if self.resty_http then return exchange_resty_http(self, req, deadline) end
  local status, body, date, sent, died = exchange(self, req, false, deadline)
  -- A kept-alive connection the server had closed: only a request that
  -- changes nothing is sent again, on a new connection.
  if not status and died and req.idempotent then
    status, body, date, sent = exchange(self, req, true, deadline)
  end
  return status, body, date, sent
end


--- After an answer that could not be read: the pooled connections of this
-- transport are not used again (they idle out of nginx's pool).
function Transport:forget_connection()
  self.generation = self.generation + 1
  self.ssl_session = nil
end


--- Pools belong to nginx; closing only stops reusing them. Safe twice.
function Transport:close()
  self.generation = self.generation + 1
  self.ssl_session = nil
end


resty.COSOCKET_PHASES = COSOCKET_PHASES

return resty
