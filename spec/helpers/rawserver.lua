-- A raw HTTP/1.1 server for specs that need answers no real server
-- sends: one mode at a time, set through the same port.
--
--   lua5.4 spec/helpers/rawserver.lua PORT
--
-- A connection whose first line is "ADMIN MODE name [count]" sets the mode
-- (for the next `count` requests, then "ok"; with no count, until changed);
-- "ADMIN MODE a,b,c" serves one request in each, then "ok"; "ADMIN STATS"
-- answers one
-- JSON line: connections accepted, requests read, the connection number
-- of the last request, the bytes written for the last answer, and the
-- mode. Any other connection is HTTP, kept alive unless the mode closes
-- it. Listens on 127.0.0.1 only; ends on "ADMIN QUIT".
local socket = require "socket"

local port = assert(tonumber(arg[1]), "usage: rawserver.lua PORT")
local listener = assert(socket.bind("127.0.0.1", port))
listener:settimeout(0)

local stats = { connections = 0, requests = 0, last_conn = 0, sent = 0,
  mode = "ok" }
local mode, queue = "ok", {}
local conns, ids = {}, {}
local MB = 1024 * 1024

local function status_line(code, reason, headers)
  local lines = { "HTTP/1.1 " .. code .. " " .. reason,
    "Date: " .. os.date("!%a, %d %b %Y %H:%M:%S GMT") }
  for _, h in ipairs(headers) do lines[#lines + 1] = h end
  return table.concat(lines, "\r\n") .. "\r\n\r\n"
end

-- Writes everything or reports that the peer went away.
local function send(conn, data)
  local i = 1
  while i <= #data do
    local last, err, partial = conn:send(data, i)
    if not last then
      stats.sent = stats.sent + ((partial or i - 1) - i + 1)
      return nil, err
    end
    stats.sent = stats.sent + (last - i + 1)
    i = last + 1
  end
  return true
end

local function json_answer(conn, body, extra)
  local headers = { "Content-Type: application/json",
    "Content-Length: " .. #body }
  for _, h in ipairs(extra or {}) do headers[#headers + 1] = h end
  return send(conn, status_line(200, "OK", headers) .. body)
end

local function ok_body(n)
  return '{"Response":{"TotalCount":0,"DataFlows":[],'
    .. '"DataFlowId":"cfs-dataflow-0000000' .. (n % 10) .. '",'
    .. '"RequestId":"raw-' .. n .. '"}}'
end

-- Each mode answers one request; returning "close" closes the connection.
local MODES = {}

function MODES.ok(conn, n) json_answer(conn, ok_body(n)) end

function MODES.deep(conn)
  local depth = 100000
  json_answer(conn, '{"Response":' .. ("["):rep(depth) .. ("]"):rep(depth)
    .. "}")
end

-- 300 MB announced by Content-Length, then streamed.
function MODES.huge(conn)
  local size, chunk = 300 * MB, ("x"):rep(64 * 1024)
  if not send(conn, status_line(200, "OK", { "Content-Type: text/plain",
      "Content-Length: " .. size })) then return "close" end
  for _ = 1, size / #chunk do
    if not send(conn, chunk) then break end
  end
  return "close"
end

-- 300 MB in chunks, no length announced: only the count can stop it.
function MODES.huge_chunked(conn)
  local data = ("x"):rep(64 * 1024)
  local chunk = string.format("%x\r\n", #data) .. data .. "\r\n"
  if not send(conn, status_line(200, "OK", { "Content-Type: text/plain",
      "Transfer-Encoding: chunked" })) then return "close" end
  for _ = 1, 300 * 16 do
    if not send(conn, chunk) then return "close" end
  end
  send(conn, "0\r\n\r\n")
  return "close"
end

-- A chunked JSON answer that never ends: a space every 0.1 s.
function MODES.endless(conn)
  if not send(conn, status_line(200, "OK", {
      "Content-Type: application/json", "Transfer-Encoding: chunked" })
      .. 'c\r\n{"Response":\r\n') then return "close" end
  while send(conn, "1\r\n \r\n") do socket.sleep(0.1) end
  return "close"
end

function MODES.invalid_utf8(conn, n)
  json_answer(conn, '{"Response":{"RequestId":"raw-' .. n .. '\255\254"}}')
end

function MODES.bom(conn, n)
  json_answer(conn, "\239\187\191" .. ok_body(n))
end

function MODES.null_response(conn) json_answer(conn, '{"Response":null}') end

function MODES.null_list(conn, n)
  json_answer(conn, '{"Response":{"TotalCount":1,"DataFlows":null,'
    .. '"RequestId":"raw-' .. n .. '"}}')
end

function MODES.null_item(conn, n)
  json_answer(conn, '{"Response":{"TotalCount":2,"DataFlows":[null,7],'
    .. '"RequestId":"raw-' .. n .. '"}}')
end

-- Content-Length covers a cut of the body; the rest follows it.
function MODES.short_length(conn, n)
  local body = ok_body(n)
  send(conn, status_line(200, "OK", { "Content-Type: application/json",
    "Content-Length: " .. (#body - 10) }) .. body)
end

-- Content-Length covers a whole answer; garbage follows it.
function MODES.excess(conn, n)
  local body = ok_body(n)
  send(conn, status_line(200, "OK", { "Content-Type: application/json",
    "Content-Length: " .. #body }) .. body .. "HTTP/1.1 200 OK\r\n\r\n")
end

-- Content-Length promises more than is sent; then the server closes.
function MODES.long_length(conn, n)
  local body = ok_body(n)
  send(conn, status_line(200, "OK", { "Content-Type: application/json",
    "Content-Length: " .. (#body + 100) }) .. body)
  return "close"
end

-- Content-Length promises more than is sent, and the server waits.
function MODES.long_length_hold(conn, n)
  local body = ok_body(n)
  send(conn, status_line(200, "OK", { "Content-Type: application/json",
    "Content-Length: " .. (#body + 100) }) .. body)
  conn:settimeout(30)
  conn:receive("*a")
  return "close"
end

local function admin(conn, line)
  local cmd, names, count = line:match("^ADMIN (%u+) ?([%w_,]*) ?(%d*)")
  local list = {}
  for name in (names or ""):gmatch("[%w_]+") do
    if not MODES[name] then list = nil break end
    for _ = 1, tonumber(count) or 1 do list[#list + 1] = name end
  end
  if cmd == "MODE" and list and #list > 0 then
    if #list == 1 and count == "" then
      mode, queue = list[1], {}
    else
      mode, queue = "ok", list
    end
    stats.mode = names
    conn:send("ok\n")
  elseif cmd == "STATS" then
    conn:send(string.format('{"connections":%d,"requests":%d,'
      .. '"last_conn":%d,"sent":%d,"mode":"%s"}\n', stats.connections,
      stats.requests, stats.last_conn, stats.sent, stats.mode))
  elseif cmd == "QUIT" then
    conn:send("bye\n")
    os.exit(0)
  else
    conn:send("error\n")
  end
end

local function drop(conn)
  conn:close()
  for i, c in ipairs(conns) do
    if c == conn then table.remove(conns, i) break end
  end
  ids[conn] = nil
end

-- Reads one request (line, headers, body) and answers it.
local function serve(conn, first)
  local length = 0
  while true do
    local h = conn:receive("*l")
    if not h then return drop(conn) end
    if h == "" then break end
    local n = h:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if n then length = tonumber(n) end
  end
  if length > 0 and not conn:receive(length) then return drop(conn) end
  if not first:match("^POST ") then return drop(conn) end

  stats.requests = stats.requests + 1
  stats.last_conn = ids[conn]
  stats.sent = 0
  local current = table.remove(queue, 1) or mode
  if MODES[current](conn, stats.requests) == "close" then drop(conn) end
end

while true do
  local readable = socket.select({ listener, table.unpack(conns) }, nil, 1)
  for _, s in ipairs(readable) do
    if s == listener then
      local conn = listener:accept()
      if conn then
        conn:settimeout(10)
        local first = conn:receive("*l")
        if first and first:match("^ADMIN ") then
          admin(conn, first)
          conn:close()
        elseif first then
          stats.connections = stats.connections + 1
          ids[conn] = stats.connections
          conns[#conns + 1] = conn
          serve(conn, first)
        else
          conn:close()
        end
      end
    elseif ids[s] then
      local first = s:receive("*l")
      if first then serve(s, first) else drop(s) end
    end
  end
end
