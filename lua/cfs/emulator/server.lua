-- The API endpoint: judges each request as the CFS service does (headers,
-- signature, clock, token, region, rate, body, fields), then acts.
-- Answers are HTTP 200 with the API 3.0 envelope; only requests the
-- service would not parse (wrong method or path) get a plain 4xx.
local util = require("cfs.emulator.util")
local config = require("cfs.emulator.config")
local shapes = require("cfs.emulator.shapes")
local tc3 = require("cfs.emulator.tc3")
local faults = require("cfs.emulator.faults")
local reqlog = require("cfs.emulator.reqlog")
local state = require("cfs.emulator.state")
local flows = require("cfs.emulator.flows")
local sts = require("cfs.emulator.sts")

local dict = util.dict

local M = {}

local HANDLERS = { CreateDataFlow = flows.CreateDataFlow,
  DescribeDataFlow = flows.DescribeDataFlow,
  ModifyDataFlow = flows.ModifyDataFlow,
  DeleteDataFlow = flows.DeleteDataFlow,
  DescribeCfsFileSystems = flows.DescribeCfsFileSystems }

-- opts: config, lua_dir, state_dir (strings written into nginx.conf).
function M.init(opts)
  config.load(opts.config)
  shapes.load(opts.lua_dir)
  config.seed_settings(true)
  state.configure(opts.state_dir)
  state.load()
end

function M.init_worker()
  util.seed()
  if state.enabled() then ngx.timer.every(1, state.save_if_dirty) end
end

-- An answer to a request that broke a rule: carries the code to the end.
local Reject = {}
Reject.__index = Reject

local function reject(code, message)
  error(setmetatable({ code = code, message = message }, Reject), 0)
end

local function missing(name)
  reject("MissingParameter",
         "The request is missing a required parameter `" .. name .. "`.")
end

-- One header's value; repeated headers are refused, as a signer cannot
-- know which of them the service would sign.
local function single(headers, name, required)
  local value = headers[name]
  if type(value) == "table" then
    reject("InvalidParameter", "The header " .. name .. " is repeated.")
  end
  if value == nil and required then missing(required) end
  return value
end

local function check_version(headers)
  local version = single(headers, "x-tc-version", "Version")
  if version ~= shapes.version() then
    reject("NoSuchVersion", "The API version `" .. version
           .. "` does not exist for cfs.")
  end
end

local function check_timestamp(headers, now)
  local text = single(headers, "x-tc-timestamp", "Timestamp")
  if not text:find("^%d+$") or #text > 12 then
    reject("InvalidParameter", "X-TC-Timestamp is not a Unix time.")
  end
  local timestamp = tonumber(text)
  local window = util.setting("timestamp_window") or 300
  if math.abs(now - timestamp) > window then
    reject("AuthFailure.SignatureExpire", string.format(
      "The request's timestamp %d is more than %d seconds from the "
      .. "server's time %d.", timestamp, window, math.floor(now)))
  end
  return timestamp
end

local function find_key(auth, now)
  local key = config.keys[auth.secret_id] or sts.issued_key(auth.secret_id)
  if not key then
    reject("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
  end
  if key.expiry and now > key.expiry then
    if key.token then
      reject("AuthFailure.TokenFailure", "The temporary key has expired.")
    end
    reject("AuthFailure.SecretIdNotFound", "The SecretId has expired.")
  end
  return key
end

local function check_token(headers, key)
  local token = single(headers, "x-tc-token")
  if key.token and token ~= key.token then
    reject("AuthFailure.TokenFailure", "The token is missing or invalid.")
  end
end

-- Whether names[i] is among the names before it (lists are short).
local function repeated(names, i)
  for j = 1, i - 1 do
    if names[j] == names[i] then return true end
  end
  return false
end

local function parse_authorization(headers)
  local value = single(headers, "authorization", "Authorization")
  local auth = tc3.parse_authorization(value)
  if not auth then
    reject("AuthFailure.InvalidAuthorization",
           "The Authorization header is not TC3-HMAC-SHA256's shape.")
  end
  local names, has_type, has_host = auth.names, false, false
  for i = 1, #names do
    local name = names[i]
    if name ~= name:lower() or headers[name] == nil
       or repeated(names, i) then
      reject("AuthFailure.InvalidAuthorization",
             "SignedHeaders names a header that is absent or not lower-case.")
    end
    has_type = has_type or name == "content-type"
    has_host = has_host or name == "host"
  end
  if not has_type or not has_host then
    reject("AuthFailure.InvalidAuthorization",
           "SignedHeaders must include content-type and host.")
  end
  return auth
end

local function signed_as(req, auth, key, date, payload, lower)
  -- handle() admits POST only.
  local canonical = tc3.canonical_request("POST", req.headers, auth.names,
    auth.signed_headers, payload, lower)
  local expected = tc3.signature(key.secret_key, req.timestamp, date, "cfs",
                                 canonical)
  return tc3.same(expected, auth.signature)
end

-- The signature over the request as received; values are also tried
-- lower-cased, which the current documentation's example signs.
local function check_signature(req, auth, key, body)
  local date = tc3.utc_date(req.timestamp)
  if auth.date ~= date or auth.service ~= "cfs" then
    reject("AuthFailure.SignatureFailure",
           "The credential scope does not match the request's date or cfs.")
  end
  local headers = req.headers
  for i = 1, #auth.names do
    if type(headers[auth.names[i]]) == "table" then
      reject("InvalidParameter", "A signed header is repeated.")
    end
  end
  local payload = tc3.sha256_hex(body)
  if signed_as(req, auth, key, date, payload, false)
     or signed_as(req, auth, key, date, payload, true) then
    return
  end
  reject("AuthFailure.SignatureFailure",
         "The request signature we calculated does not match.")
end

local function check_region(headers, action)
  local region = single(headers, "x-tc-region")
  if region == nil or region == "" then
    if not config.region_optional[action] then missing("Region") end
    return nil
  end
  if not config.regions[region] then
    reject("UnsupportedRegion", "The region `" .. region
           .. "` is not supported.")
  end
  return region
end

-- Requests per second per action and key, counted by all workers.
local function check_rate(action, secret_id, now)
  local limit = util.setting("rate_limit") or 0
  if limit <= 0 then return end
  local key = "rate:" .. action .. ":" .. secret_id .. ":" .. math.floor(now)
  if dict:incr(key, 1, 0, 2) > limit then
    reject("RequestLimitExceeded", "Requests for " .. action
           .. " exceed " .. limit .. " per second.")
  end
end

local function read_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body then return body end
  local file = ngx.req.get_body_file()
  if file then return assert(util.read_file(file)) end
  return ""
end

local function parse_body(body)
  if not util.valid_utf8(body) then
    reject("InvalidParameter", "The body is not valid UTF-8.")
  end
  local params = util.json.decode(body)
  if type(params) ~= "table" or (next(params) and params[1] ~= nil) then
    reject("InvalidParameter", "The body is not a JSON object.")
  end
  return params
end

-- What sts.lua judges STS requests with.
local CHECKS = { single = single, missing = missing, reject = reject,
  check_timestamp = check_timestamp, parse_authorization = parse_authorization,
  find_key = find_key, check_token = check_token, read_body = read_body,
  parse_body = parse_body }

-- Judges the request; returns what the action answers. req collects what
-- the request log and fault handling need.
local function judge(req)
  local headers = req.headers
  local action = single(headers, "x-tc-action", "Action")
  req.action = action
  local fault, offset, clock_taken = faults.take(action)
  req.fault = fault
  if clock_taken then
    req.clock_offset, req.clock_fault = offset, true
  end
  M.before_acting(req)
  if sts.ACTIONS[action] then return sts.judge(req, CHECKS) end
  if not shapes.action(action) then
    reject("InvalidAction", "The action `" .. action .. "` does not exist.")
  end
  check_version(headers)
  local now = util.now(req.clock_offset)
  req.now = now
  req.timestamp = check_timestamp(headers, now)
  local auth = parse_authorization(headers)
  req.secret_id = auth.secret_id
  local key = find_key(auth, now)
  check_token(headers, key)
  local body = read_body()
  check_signature(req, auth, key, body)
  req.region = check_region(headers, action)
  check_rate(action, auth.secret_id, now)
  local params = parse_body(body)
  if #body <= 65536 then req.params = params end
  local code, message = shapes.check_input(action, params)
  if code then reject(code, message) end
  local handler = HANDLERS[action]
  if not handler then return shapes.example_output(action) end
  local out
  out, code, message = handler(req, params, shapes)
  if not out then reject(code, message) end
  return out
end

-- ngx.http_time formats through a C call: format each second once.
local last_second, last_date

local function http_date(now)
  local second = math.floor(now)
  if second ~= last_second then
    last_second, last_date = second, ngx.http_time(second)
  end
  return last_date
end

-- content_type: nil for JSON, nginx.conf's default_type.
local function send(status, body, content_type, req)
  ngx.status = status
  if content_type then ngx.header["Content-Type"] = content_type end
  local now = req and req.now or util.now(req and req.clock_offset)
  ngx.header["Date"] = http_date(now)
  ngx.header["Content-Length"] = #body
  ngx.print(body)
end

local function envelope(response, request_id)
  response.RequestId = request_id
  return util.encode({ Response = response })
end

local function error_envelope(code, message, request_id)
  return envelope({ Error = { Code = code, Message = message } }, request_id)
end

-- Faults that strike before the service acts (or instead of it).
function M.before_acting(req)
  local fault = req.fault
  if not fault then return end
  local kind = fault.kind
  if kind == "delay" then
    ngx.sleep(fault.delay)
  elseif kind == "close_before" then
    req.closed = true
    error(req, 0)
  elseif kind == "http_502" or kind == "not_json" or kind == "error" then
    error(req, 0)
  end
end

local function fault_answer(req)
  local kind = req.fault.kind
  if kind == "close_before" or kind == "close_after" then
    return ngx.exit(444)
  end
  if kind == "http_502" then
    return send(502, "<html><head><title>502 Bad Gateway</title></head>"
      .. "<body><center><h1>502 Bad Gateway</h1></center></body></html>\n",
      "text/html", req)
  end
  if kind == "not_json" then
    return send(200, "upstream said: service temporarily unavailable\n",
                "text/plain", req)
  end
  return send(200, error_envelope(req.fault.code, "Injected fault.",
                                  req.request_id), nil, req)
end

local function log_request(req)
  reqlog.add({ action = req.action, secret_id = req.secret_id,
    code = req.code or "", request_id = req.request_id,
    fault = req.fault and req.fault.kind or (req.clock_fault
      and "clock_offset") or nil, params = req.params,
    time = ngx.now() })
end

-- Sends the answer (or what the fault says to do instead).
local function finish(req, ok, result)
  if not ok and result == req then
    local auth = req.headers.authorization
    if type(auth) == "string" then
      req.secret_id = auth:match("Credential=([^/,%s]+)/")
    end
    if req.fault.kind == "error" then req.code = req.fault.code end
    log_request(req)
    return fault_answer(req)
  end
  local body
  if ok then
    req.code = "Success"
    body = envelope(result, req.request_id)
  elseif getmetatable(result) == Reject then
    req.code = result.code
    body = error_envelope(result.code, result.message, req.request_id)
  else
    ngx.log(ngx.ERR, "emulator error: ", tostring(result))
    req.code = "InternalError"
    body = error_envelope("InternalError", "The emulator failed.",
                          req.request_id)
  end
  log_request(req)
  local kind = req.fault and req.fault.kind
  if kind == "close_after" then return ngx.exit(444) end
  if kind == "truncated" then
    return send(200, body:sub(1, math.floor(#body / 2)), nil, req)
  end
  send(200, body, nil, req)
end

function M.handle()
  if ngx.req.get_method() ~= "POST" then
    return ngx.exit(405)
  end
  if ngx.var.uri ~= "/" then return ngx.exit(404) end
  util.refresh_settings()
  local headers, err = ngx.req.get_headers(64)
  local req = { request_id = util.uuid(), headers = headers }
  if err == "truncated" then
    return finish(req, false, setmetatable({ code = "InvalidParameter",
      message = "The request has too many headers." }, Reject))
  end
  finish(req, pcall(judge, req))
end

-- error_page 413 lands here: bodies over the service's 10 MB.
function M.too_large()
  util.refresh_settings()
  local request_id = util.uuid()
  ngx.status = 200
  reqlog.add({ action = ngx.var.http_x_tc_action, request_id = request_id,
               code = "RequestSizeLimitExceeded", time = ngx.now() })
  send(200, error_envelope("RequestSizeLimitExceeded",
    "The request body exceeds 10 MB.", request_id))
end

return M
