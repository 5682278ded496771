--- A client of the CFS API: options, then for each call
-- validate -> encode -> pace -> sign -> send -> decode, with retries.
--
-- Options (cfs.new): see OPTIONS below and the README's table.
-- Environment, read only when the matching option is absent:
--   TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY,
--   TENCENTCLOUD_SESSION_TOKEN, TENCENTCLOUD_CREDENTIALS_FILE (keys);
--   TENCENTCLOUD_REGION (region); CFS_ENDPOINT (endpoint: host or URL);
--   CFS_CA_FILE (ca_file).
-- @module cfs.client

local core = require "cfs.core"
local api = require "cfs.api"
local errors = require "cfs.errors"
local credentials = require "cfs.credentials"
local retry = require "cfs.retry"
local pace = require "cfs.pace"
local redact = require "cfs.redact"
local validate = require "cfs.validate"
local endpoint = require "cfs.endpoint"

local type, tostring, pairs, ipairs, error, pcall, require =
  type, tostring, pairs, ipairs, error, pcall, require
local setmetatable, getmetatable = setmetatable, getmetatable
local floor, abs = math.floor, math.abs
local find, match, format = string.find, string.match, string.format
local concat = table.concat
local getenv, os_time = os.getenv, os.time

local VERSION = core._VERSION
local REQUEST_CLIENT = "SDK_LUA_CFS_" .. VERSION
local CONTENT_TYPE = "application/json"
local SERVICE = api.service
local API_VERSION = api.version
local DEFAULT_ENDPOINT = api.endpoint
local MAX_CLOCK_OFFSET = 86400

-- Actions whose documentation lists Region as optional; every other one
-- is refused before sending when the client has no region.
local REGION_OPTIONAL = {
  DescribeCfsFileSystems = true, UpdateCfsFileSystemName = true,
}

local Client = {}

--- Every option cfs.new takes; anything else is refused.
local OPTIONS = {
  secret_id = "string", secret_key = "string", token = "string",
  credentials = "table", profile = "string", credentials_file = "string",
  region = "string", endpoint = "string", insecure_http = "boolean",
  timeout = "number", connect_timeout = "number", max_response = "number",
  ca_file = "string", proxy = "string", language = "string",
  logger = "function", dry_run = "boolean", retry = "table|boolean",
  pacer = "table|boolean", rates = "table", clock_offset = "number",
  max_clock_offset = "number", clock = "function", sleep = "function",
  random = "function", transport = "table|string", concurrency = "number",
}


local function option_error(message)
  error("cfs.new: " .. message, 4)
end


local function check_options(opts)
  local names = {}
  for name in pairs(OPTIONS) do names[#names + 1] = name end
  for name, value in pairs(opts) do
    local want = OPTIONS[name]
    if not want then
      local close = type(name) == "string" and validate.suggest(name, names)
      option_error("unknown option '" .. tostring(name) .. "'"
        .. (close and ("; did you mean '" .. close .. "'?") or ""))
    end
    if not find("|" .. want .. "|", "|" .. type(value) .. "|", 1, true) then
      option_error("option " .. name .. " must be a " .. want .. ", got "
        .. type(value))
    end
  end
end


-- Header values must not carry a line break or other control character.
local function plain_text(value)
  return not find(value, "[%c\127]")
end


--- Splits an endpoint (a host, or an http(s) URL) into url and host.
local function parse_endpoint(text, insecure_http)
  local url, host = endpoint.parse(text, insecure_http)
  if not url then option_error(host) end
  return url, host
end


local function make_credentials(opts)
  if opts.credentials then return opts.credentials end
  if opts.token and not (opts.secret_id and opts.secret_key) then
    option_error("token goes with secret_id and secret_key (a session "
      .. "token belongs to one temporary key pair)")
  end
  if opts.secret_id or opts.secret_key then
    if not (opts.secret_id and opts.secret_key) then
      option_error("secret_id and secret_key go together")
    end
    return credentials.static(opts.secret_id, opts.secret_key, opts.token)
  end
  return credentials.default {
    file = opts.credentials_file, profile = opts.profile,
  }
end


local function make_transport(opts, endpoint_url)
  local t = opts.transport
  if type(t) == "table" then return t end
  if t == nil then
    t = (ngx and ngx.socket and ngx.get_phase) and "resty" or "curl"
  end
  if t ~= "curl" and t ~= "resty" then
    option_error("transport must be 'curl', 'resty' or a table")
  end
  return require("cfs.transport." .. t).new {
    ca_file = opts.ca_file, proxy = opts.proxy, timeout = opts.timeout,
    connect_timeout = opts.connect_timeout,
    max_response = opts.max_response, endpoint = endpoint_url,
  }
end


-- The header lines of an action that do not change between calls.
local function fixed_headers(self, action)
  local lines = {
    "Content-Type: " .. CONTENT_TYPE,
    "Host: " .. self.host,
    "X-TC-Action: " .. action,
    "X-TC-Version: " .. API_VERSION,
    "X-TC-RequestClient: " .. REQUEST_CLIENT,
    "Expect:",
  }
  if self.region then lines[#lines + 1] = "X-TC-Region: " .. self.region end
  if self.language then
    lines[#lines + 1] = "X-TC-Language: " .. self.language
  end
  return lines
end


--- Makes a client. Raises on a wrong option: that is a programming mistake.
-- @tparam[opt] table opts `secret_id`, `secret_key`, `token`,
-- `credentials`, `profile`, `credentials_file`, `region`, `endpoint`,
-- `insecure_http`, `ca_file`, `proxy`, `timeout`, `connect_timeout`,
-- `max_response`, `language`, `retry`, `pacer`, `rates`, `clock_offset`,
-- `max_clock_offset`, `logger`, `dry_run`, `transport`, `concurrency`,
-- `clock`, `sleep`, `random` (the README's table)
-- @treturn cfs.client the client
-- @usage
-- local cfs = require "cfs"
-- local client = cfs.new { region = "ap-guangzhou", timeout = 30,
--   retry = { max_attempts = 2 } }
-- local res, err = client:describe_cfs_file_systems {}
-- assert(res, tostring(err))
function Client.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error("cfs.new: options must be a table, got " .. type(opts), 2)
  end
  check_options(opts)

  local region = opts.region or getenv "TENCENTCLOUD_REGION"
  if region == "" then region = nil end
  if region and not find(region, "^[%w%-]+$") then
    option_error("region must be letters, digits and '-', like "
      .. "'ap-guangzhou'")
  end
  if opts.language and opts.language ~= "zh-CN"
      and opts.language ~= "en-US" then
    option_error("language must be 'zh-CN' or 'en-US'")
  end
  local concurrency = opts.concurrency or 8
  if not (concurrency >= 1 and concurrency < math.huge) then
    option_error("concurrency must be a number >= 1")
  end
  local clock_offset = opts.clock_offset or 0
  if not (abs(clock_offset) <= MAX_CLOCK_OFFSET * 365) then
    option_error("clock_offset must be a finite number of seconds, "
      .. "within a year")
  end
  for action, rate in pairs(opts.rates or {}) do
    if not api.actions[action] then
      local names = {}
      for name in pairs(api.actions) do names[#names + 1] = name end
      local close = validate.suggest(tostring(action), names)
      option_error("rates: unknown action '" .. tostring(action) .. "'"
        .. (close and ("; did you mean '" .. close .. "'?") or ""))
    end
    if type(rate) ~= "number" or not (rate >= 0.01 and rate <= 10000) then
      option_error("rates." .. action .. " must be calls a second from "
        .. "0.01 to 10000 (pacer = false turns pacing off)")
    end
  end
  local where = opts.endpoint or getenv "CFS_ENDPOINT"
  if where == "" or where == nil then where = DEFAULT_ENDPOINT end
  local url, host = parse_endpoint(where, opts.insecure_http)
  local ca_file = opts.ca_file or getenv "CFS_CA_FILE"
  if ca_file == "" then ca_file = nil end

  local self = setmetatable({
    url = url, host = host, region = region, language = opts.language,
    ca_file = ca_file, logger = opts.logger, dry_run = opts.dry_run,
    credentials = make_credentials(opts),
    retry = retry.policy(opts.retry),
    rates = opts.rates or {},
    clock = opts.clock or os_time,
    clock_offset = clock_offset,
    max_clock_offset = opts.max_clock_offset or MAX_CLOCK_OFFSET,
    random = opts.random or math.random,
    concurrency = floor(concurrency),
    signer = core.signer(),
  }, Client)
  self.fixed_headers = setmetatable({}, { __index = function(t, action)
    local lines = fixed_headers(self, action)
    t[action] = lines
    return lines
  end })
  self.sleep = opts.sleep or (ngx and ngx.sleep) or core.sleep
  if opts.pacer == false then
    self.pacer = pace.none
  elseif type(opts.pacer) == "table" then
    self.pacer = opts.pacer
  else
    self.pacer = pace.new()
  end
  local topts = {}
  for k, v in pairs(opts) do topts[k] = v end
  topts.ca_file = ca_file
  self.transport = make_transport(topts, url)
  return self
end


function Client:__tostring()
  return format("cfs.client(%s, region=%s)", self.url,
    tostring(self.region))
end


function Client:__index(key)
  local method = Client[key]
  if method ~= nil then return method end
  local action = api.methods[key]
  if not action then return nil end
  method = function(client, params)
    if getmetatable(client) ~= Client then
      error("cfs: call it as client:" .. key .. "(params)", 2)
    end
    return client:call(action, params)
  end
  Client[key] = method
  return method
end


local function log(self, level, message)
  if self.logger then pcall(self.logger, level, message) end
end


-- The description of an action, or nil, err for a name the API lacks.
local descriptions = {}

local function describe(action)
  local description = descriptions[action]
  if description then return description end
  if not api.actions[action] then
    local names = {}
    for name in pairs(api.actions) do names[#names + 1] = name end
    local close = validate.suggest(action, names)
    return nil, errors.new {
      code = "InvalidAction", action = action,
      message = "unknown action '" .. action .. "'"
        .. (close and ("; did you mean '" .. close .. "'?") or ""),
    }
  end
  description = require("cfs.api.actions." .. action)
  descriptions[action] = description
  return description
end


-- The field names at the level of `path` ("Filters[2].Valuez" looks in
-- Filter's fields), for suggestions.
local function names_at(fields, path)
  for step in path:gmatch "([^%.]+)%." do
    local name = step:match "^[^%[]+"
    local next_fields
    for _, entry in ipairs(fields) do
      if entry[1] == name and type(entry[2]) == "table" then
        next_fields = entry[2]
      end
    end
    if not next_fields then return {} end
    fields = next_fields
  end
  local names = {}
  for i, entry in ipairs(fields) do names[i] = entry[1] end
  return names
end


--- The JSON body for `params`, or nil, err naming the field at fault.
-- Nothing is sent: this is the check every call makes first.
-- @string action the API's name of the action
-- @tab params the action's parameters
-- @treturn[1] string the body, fields in the API's declared order
-- @return[2] nil
-- @treturn[2] cfs.errors the error; `err.field` names the parameter
-- @usage
-- local cfs = require "cfs"
-- local body, err = cfs.new():encode("DescribeDataFlow", { Limit = "x" })
-- assert(body == nil and err.field == "Limit")
function Client:encode(action, params)
  local desc, err = describe(action)
  if not desc then return nil, err end
  local body, code, path, message = core.encode(params, desc.input)
  if not body then
    if code == "UnknownParameter" then
      local close = validate.suggest(path:match "[^%.%]]+$",
        names_at(desc.input, path))
      if close then message = message .. "; did you mean '" .. close
        .. "'?" end
    end
    return nil, errors.new {
      code = code, message = message, field = path, action = action,
    }
  end
  local ok, verr = validate.check(desc, params)
  if ok == nil and verr then
    return nil, errors.new {
      code = verr.code, message = verr.message, field = verr.field,
      action = action,
    }
  end
  return body
end


local DryRun = {}
DryRun.__index = DryRun

function DryRun:__tostring()
  local lines = { self.method .. " " .. self.url }
  for i, h in ipairs(self.headers) do lines[i + 1] = redact.header(h) end
  lines[#lines + 1] = ""
  lines[#lines + 1] = redact.body(self.body)
  return concat(lines, "\n")
end


-- What is wrong with keys from a provider, if anything; never their
-- values. The signer's limits: 256 bytes of key, 768 of id.
local function credentials_problem(id, key, token)
  if type(id) ~= "string" or type(key) ~= "string"
      or (token ~= nil and type(token) ~= "string") then
    return "the credentials provider gave a secret id, key or token "
      .. "that is not a string"
  end
  if not plain_text(id) or (token and not plain_text(token)) then
    return "secret id or token holds a control character"
  end
  if #key == 0 or #key > 256 or #id == 0 or #id > 768 then
    return "secret id (1-768 bytes) or key (1-256 bytes) has an "
      .. "impossible length"
  end
end


--- The signed request for one attempt: { url, headers, body, idempotent },
-- or nil, err when no usable credentials are at hand. A fresh timestamp
-- and signature each time; the same body. For engines (cfs.batch).
-- @string action the API's name of the action
-- @string body the encoded body (Client:encode)
-- @bool mutates whether the action changes state
-- @treturn[1] table the request
-- @return[2] nil
-- @treturn[2] cfs.errors the error
-- @usage
-- local client = require("cfs").new()
-- local request = assert(client:build_request("DescribeDataFlow", "{}",
--   false))
-- assert(request.idempotent and request.body == "{}")
function Client:build_request(action, body, mutates)
  local ok, id, key, token = self.credentials:get()
  if not ok then
    if errors.is(id) then return nil, id end
    -- A provider of the user's may answer `nil, "message"`.
    return nil, errors.new { code = "InvalidCredentials", action = action,
      message = "the credentials provider gave no keys: " .. tostring(id) }
  end
  if id ~= self.checked_id or key ~= self.checked_key
      or token ~= self.checked_token then
    local problem = credentials_problem(id, key, token)
    if problem then
      return nil, errors.new { code = "InvalidCredentials", action = action,
        message = problem }
    end
    self.checked_id, self.checked_key, self.checked_token = id, key, token
  end
  local timestamp = floor(self.clock() + self.clock_offset)
  local headers = self.signer:headers(id, key, timestamp, SERVICE, self.host,
    CONTENT_TYPE, body, self.fixed_headers[action], token)
  return { url = self.url, headers = headers, body = body,
    idempotent = not mutates }
end


--- What a transport returned, read: response | nil, err, date.
-- For engines (cfs.batch).
-- @string action the API's name of the action
-- @param status the HTTP status, or nil when the transport failed
-- @string answer the body, or the transport's error code
-- @string date the Date header, or the transport's error message
-- @param sent whether a failed request was sent
-- @treturn[1] table the Response
-- @return[2] nil
-- @treturn[2] cfs.errors the error
-- @treturn[2] string the Date header (to correct the clock)
-- @usage
-- local client = require("cfs").new()
-- local res = client:read_answer("DescribeDataFlow", 200,
--   '{"Response":{"TotalCount":0,"DataFlows":[],"RequestId":"r-1"}}')
-- assert(res.RequestId == "r-1")
function Client:read_answer(action, status, answer, date, sent)
  if not status then
    return nil, errors.new { code = answer, message = date, sent = sent,
      action = action }
  end
  local response, code, message, request_id = core.decode(status, answer)
  if response then return response end
  if code == "InvalidResponse" and self.transport.forget_connection then
    self.transport:forget_connection()
  end
  return nil, errors.new { code = code, message = message,
    request_id = request_id, http_status = status, action = action }, date
end


-- One signed request and its answer: response | nil, err, date.
local function attempt(self, action, body, mutates)
  local request, err = self:build_request(action, body, mutates)
  if not request then return nil, err end
  if self.dry_run then
    request.method = "POST"
    return setmetatable(request, DryRun)
  end
  return self:read_answer(action, self.transport:send(request))
end


local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6,
  Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

--- Seconds since the epoch of an HTTP date ("Sun, 06 Nov 1994 08:49:37
-- GMT"); by arithmetic, as os.time reads the local time zone.
-- @function Client.http_date
-- @string text the Date header
-- @treturn[1] int seconds since the epoch
-- @return[2] nil for a text that is not an HTTP date
-- @usage
-- local Client = require "cfs.client"
-- assert(Client.http_date("Thu, 01 Jan 1970 00:01:00 GMT") == 60)
local function http_date(text)
  local d, mon, y, h, mi, s = match(text or "",
    "^%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  local m = MONTHS[mon]
  if not m then return nil end
  y, m, d = y + 0, m, d + 0
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local doy = floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + h * 3600 + mi * 60 + s
end
Client.http_date = http_date


-- After AuthFailure.SignatureExpire: the offset to the service's clock.
local function clock_offset_from(self, date)
  local server = http_date(date)
  if not server then return nil end
  local offset = server - self.clock()
  if abs(offset) > self.max_clock_offset then return nil end
  return offset
end


-- Recovery after a create that may have happened: look for the flow.
local recover = {}

function recover.CreateDataFlow(self, params)
  local target = params.TargetPath
  if target:sub(-1) ~= "/" then target = target .. "/" end
  for flow, err in self:data_flows { FileSystemId = params.FileSystemId } do
    if not flow then return nil, err end
    if flow.SourceStorageAddress == params.SourceStorageAddress
        and flow.SourcePath == params.SourcePath
        and (flow.TargetPath == target or flow.TargetPath == params.TargetPath)
        and flow.DataFlowName == params.DataFlowName then
      return { DataFlowId = flow.DataFlowId, RequestId = flow.RequestId,
        Recovered = true }
    end
  end
  return false
end


--- Calls `action` with `params`: the Response table, or nil, err.
-- `client:describe_data_flow(params)` and the other actions' methods
-- are this with the action's name filled in.
-- @string action the API's name of the action
-- @tparam[opt] table params the action's parameters, in the API's names
-- @treturn[1] table the Response (with RequestId)
-- @return[2] nil
-- @treturn[2] cfs.errors the error
-- @usage
-- local client = require("cfs").new()
-- local res, err = client:call("DescribeDataFlow", { Limit = 10 })
-- assert(res, tostring(err))
function Client:call(action, params)
  if type(action) ~= "string" then
    error("cfs: action must be a string, got " .. type(action), 2)
  end
  if params == nil then params = {} end
  if type(params) ~= "table" then
    error("cfs: " .. action .. ": params must be a table, got "
      .. type(params), 2)
  end
  local body, err = self:encode(action, params)
  if not body then
    err.attempts = 0
    return nil, err
  end
  if not self.region and not REGION_OPTIONAL[action] then
    return nil, errors.new { code = "MissingParameter", field = "region",
      action = action, attempts = 0,
      message = "region: " .. action .. " needs a region; set the region "
        .. "option or TENCENTCLOUD_REGION (e.g. ap-guangzhou)" }
  end
  return self:send(action, body, params)
end


--- The final form of an error: how many attempts, whether retryable.
-- @tparam cfs.errors err the error, changed in place
-- @int attempts attempts made
-- @bool mutates whether the action changes state
-- @return nil
-- @treturn cfs.errors err
-- @usage
-- local Client = require "cfs.client"
-- local errors = require "cfs.errors"
-- local _, err = Client.settle(errors.new { code = "ConnectError" }, 3)
-- assert(err.attempts == 3 and err.retryable)
function Client.settle(err, attempts, mutates)
  err.attempts = attempts
  err.retryable = errors.retryable(err.code, mutates)
  return nil, err
end
local settle = Client.settle


--- What follows a failed attempt: "retry", delay | "recover" | "fail".
-- `state` is the call's own table, kept across its attempts.
-- @bool mutates whether the action changes state
-- @tparam cfs.errors err the attempt's error
-- @tparam[opt] string date the answer's Date header
-- @int attempts attempts made so far
-- @tab state the call's own table
-- @treturn string "retry", "recover" or "fail"
-- @treturn[opt] number seconds to wait before the retry
-- @usage
-- local client = require("cfs").new { retry = false }
-- local errors = require "cfs.errors"
-- local step = client:next_step(false,
--   errors.new { code = "RequestLimitExceeded" }, nil, 1, {})
-- assert(step == "fail")
function Client:next_step(mutates, err, date, attempts, state)
  local code = err.code
  if code == "AuthFailure.SignatureExpire" then
    if state.clock_fixed then return "fail" end
    state.clock_fixed = true
    local offset = clock_offset_from(self, date)
    if not offset then return "fail" end
    self.clock_offset = offset
    return "retry", 0
  end
  if code == "AuthFailure.TokenFailure" then
    local refresh = self.credentials.refresh
    if state.refreshed or not refresh then return "fail" end
    state.refreshed = true
    if not refresh(self.credentials) then return "fail" end
    return "retry", 0
  end
  if mutates and errors.maybe_acted(code) then return "recover" end
  local policy = self.retry
  local again
  if policy.should_retry then
    again = policy.should_retry(err, attempts, err.action)
  else
    again = errors.retryable(code, mutates)
  end
  if again and attempts < policy.max_attempts then
    return "retry", retry.delay(policy, attempts, self.random)
  end
  return "fail"
end


--- After a failure that may have come after the service acted: the
-- existing result (found), or nil and a delay (safe to send again), or
-- nil and no delay (outcome unknown; `err` says so).
-- @string action the API's name of the action
-- @tab params the call's parameters
-- @tparam cfs.errors err the attempt's error
-- @int attempts attempts made so far
-- @treturn[1] table the Response found (`Recovered = true`)
-- @return[2] nil
-- @treturn[2] number seconds before sending again
-- @return[3] nil: the outcome is unknown
-- @usage
-- local client = require("cfs").new()
-- local errors = require "cfs.errors"
-- local err = errors.new { code = "Timeout", message = "no answer" }
-- assert(client:recover("ModifyDataFlow", {}, err, 1) == nil)
-- assert(err.outcome == "unknown")
function Client:recover(action, params, err, attempts)
  local finder = recover[action]
  local found = false
  if finder and params then found = finder(self, params) end
  if found then return found end
  -- Only a dropped connection proves the service has finished; after a
  -- timeout the call may still be under way.
  if found == nil or not finder or err.code == "Timeout"
      or attempts >= self.retry.max_attempts then
    err.outcome = "unknown"
    err.message = err.message .. "; the " .. action
      .. " may or may not have been carried out"
    return nil
  end
  return nil, retry.delay(self.retry, attempts, self.random)
end


--- Sends an encoded body, with pacing and the retry policy.
-- @string action the API's name of the action
-- @string body the body (Client:encode)
-- @tab[opt] params the parameters it came from (for recovery)
-- @treturn[1] table the Response
-- @return[2] nil
-- @treturn[2] cfs.errors the error
-- @usage
-- local client = require("cfs").new()
-- local body = assert(client:encode("DescribeDataFlow", { Limit = 1 }))
-- local res, err = client:send("DescribeDataFlow", body)
-- assert(res, tostring(err))
function Client:send(action, body, params)
  local mutates = api.actions[action].mutates
  local state, attempts = {}, 0
  local transport = self.transport
  if transport.ready and not self.dry_run then
    local ok, code, message = transport:ready()
    if not ok then
      return settle(errors.new { code = code, message = message,
        action = action, sent = false }, 0, mutates)
    end
  end
  while true do
    attempts = attempts + 1
    if not self.dry_run then
      local wait = self.pacer:take(action, self:rate(action))
      if wait > 0 then self.sleep(wait) end
    end
    local response, err, date = attempt(self, action, body, mutates)
    if response then return response end
    log(self, "debug", format("cfs: %s attempt %d failed: %s", action,
      attempts, tostring(err.code)))
    local step, delay = self:next_step(mutates, err, date, attempts, state)
    if step == "recover" then
      local found
      found, delay = self:recover(action, params, err, attempts)
      if found then return found end
      step = delay and "retry" or "fail"
    end
    if step == "fail" then return settle(err, attempts, mutates) end
    if delay > 0 then self.sleep(delay) end
  end
end


--- Calls a second `action` may make: the documented rate unless `rates`
-- says otherwise.
-- @string action the API's name of the action
-- @treturn number calls a second
-- @usage
-- local client = require("cfs").new { rates = { CreateDataFlow = 5 } }
-- assert(client:rate("CreateDataFlow") == 5)
function Client:rate(action)
  return self.rates[action] or api.actions[action].rate
end


-- A DescribeDataFlow answer whose list the iterator can walk: a null
-- (cjson.null) or a non-object where a table belongs is InvalidResponse,
-- never a Lua error in the caller, or in a create's recovery.
local function checked_page(res)
  local flows, total = res.DataFlows, res.TotalCount
  local ok = (flows == nil or type(flows) == "table")
    and (total == nil or type(total) == "number")
  for _, flow in ipairs(ok and flows or {}) do
    ok = ok and type(flow) == "table"
  end
  if ok then return res end
  return nil, errors.new { code = "InvalidResponse",
    action = "DescribeDataFlow", request_id = res.RequestId,
    message = "answer's DataFlows is not a list of objects" }
end


--- Every data flow that matches `filter` (FileSystemId, DataFlowId),
-- fetched a page of 100 at a time: `for flow, err in client:data_flows()`.
-- On failure the loop body gets false, err once, then the loop stops
-- (a generic for would end at once on nil, hiding the error).
-- @tab[opt] filter `FileSystemId`, `DataFlowId`
-- @treturn function an iterator of DataFlowInfo tables
-- @usage
-- local client = require("cfs").new()
-- for flow, err in client:data_flows { FileSystemId = "cfs-44d53b63e" } do
--   assert(flow, tostring(err))
--   print(flow.DataFlowId, flow.Status)
-- end
function Client:data_flows(filter)
  filter = filter or {}
  local page, index, offset, total, done = nil, 0, 0, nil, false
  return function()
    if done then return nil end
    index = index + 1
    if not page or index > #page then
      if total and offset >= total then done = true return nil end
      local params = {}
      for k, v in pairs(filter) do params[k] = v end
      params.Limit, params.Offset = 100, offset
      local res, err = self:call("DescribeDataFlow", params)
      if res then res, err = checked_page(res) end
      if not res then done = true return false, err end
      page, index, total = res.DataFlows or {}, 1, res.TotalCount or 0
      offset = offset + #page
      if #page == 0 then done = true return nil end
    end
    return page[index]
  end
end


-- What wait_data_flow takes, with its defaults (seconds).
local WAIT_DEFAULTS = { timeout = 300, interval = 1, backoff = 1.5,
  max_interval = 10 }

local function wait_options(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("cfs: wait_data_flow: opts must be a table, got " .. type(opts), 3)
  end
  local o = { clock = core.monotonic }
  for name, value in pairs(WAIT_DEFAULTS) do o[name] = value end
  for name, value in pairs(opts or {}) do
    local want = name == "clock" and "function" or "number"
    if not (WAIT_DEFAULTS[name] or name == "clock") then
      error("cfs: wait_data_flow: unknown option '" .. tostring(name)
        .. "'", 3)
    end
    if type(value) ~= want then
      error("cfs: wait_data_flow: option " .. name .. " must be a " .. want
        .. ", got " .. type(value), 3)
    end
    o[name] = value
  end
  -- a zero interval would poll as fast as the service answers
  if o.interval <= 0 or o.max_interval <= 0 or o.backoff < 1 then
    error("cfs: wait_data_flow: interval and max_interval must be above 0,"
      .. " backoff at least 1", 3)
  end
  return o
end


local function wait_error(code, id, message, res, flow)
  return nil, errors.new { code = code, data_flow_id = id, flow = flow,
    message = "data flow " .. id .. " " .. message,
    request_id = res and res.RequestId }
end


--- Waits until a data flow is `available`, polling DescribeDataFlow:
-- first after `interval` seconds, then `backoff` times longer each time,
-- up to `max_interval`, until `timeout` seconds have passed.
-- Sleeps with the client's `sleep` (ngx.sleep under OpenResty).
-- @string id the DataFlowId
-- @tab[opt] opts `timeout` (300), `interval` (1), `backoff` (1.5),
-- `max_interval` (10), `clock` (seconds; default cfs.core.monotonic)
-- @treturn[1] table the DataFlowInfo, Status `available`
-- @return[2] nil
-- @treturn[2] cfs.errors `DataFlowUnavailable` (`err.flow` holds it),
-- `DataFlowNotFound` (gone or being deleted), `WaitTimeout`, or the
-- DescribeDataFlow call's own error
-- @usage
-- local client = require("cfs").new()
-- local created = assert(client:create_data_flow {
--   FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
--   SourceStorageAddress =
--     "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
--   SourcePath = "wait", TargetPath = "/cfs/wait",
--   SecretId = "AKIDEXAMPLEEXAMPLE", SecretKey = "exampleSecretKeyValue" })
-- local flow, err = client:wait_data_flow(created.DataFlowId,
--   { timeout = 60, interval = 0.5 })
-- assert(flow, tostring(err))
-- assert(flow.Status == "available")
function Client:wait_data_flow(id, opts)
  if type(id) ~= "string" then
    error("cfs: wait_data_flow: id must be a string, got " .. type(id), 2)
  end
  local o = wait_options(opts)
  local deadline, interval = o.clock() + o.timeout, o.interval
  while true do
    local res, err = self:call("DescribeDataFlow", { DataFlowId = id })
    if not res then return nil, err end
    local flow
    for _, f in ipairs(res.DataFlows or {}) do
      if f.DataFlowId == id then flow = f end
    end
    local status = flow and flow.Status
    if status == "available" then return flow end
    if status == "unavailable" then
      return wait_error("DataFlowUnavailable", id, "is unavailable", res,
        flow)
    end
    if not flow or status == "deleting" then
      return wait_error("DataFlowNotFound", id, flow and "is being deleted"
        or "does not exist (deleted?)", res, flow)
    end
    local left = deadline - o.clock()
    if left <= 0 then
      return wait_error("WaitTimeout", id, "is still " .. tostring(status)
        .. " after " .. o.timeout .. " s", res, flow)
    end
    self.sleep(interval < left and interval or left)
    interval = interval * o.backoff
    if interval > o.max_interval then interval = o.max_interval end
  end
end


--- Many calls of one action at once: see cfs.batch.
-- @string action the API's name of the action
-- @tab list one table of parameters per call
-- @tab[opt] opts `concurrency`, `deadline`, `progress`, `on_result`
-- @treturn table results in list order: `{ ok = true, value = response }`
-- or `{ ok = false, err = err }`
-- @treturn table the summary: `succeeded`, `failed`, `by_code`,
-- `attempts`, `elapsed`
-- @usage
-- local client = require("cfs").new()
-- local results, summary = client:batch("DescribeDataFlow",
--   { { Limit = 1 }, { Limit = 2 } }, { concurrency = 2 })
-- assert(summary.succeeded == 2 and results[2].ok)
function Client:batch(action, list, opts)
  return require("cfs.batch").run(self, action, list, opts)
end


--- Many CreateDataFlow calls at once: see cfs.batch.
-- @tab list one table of CreateDataFlow parameters per flow
-- @tab[opt] opts as for Client:batch
-- @treturn table results in list order
-- @treturn table the summary
-- @usage
-- local client = require("cfs").new()
-- local list = {}
-- for i = 1, 3 do
--   list[i] = { FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
--     SourceStorageAddress =
--       "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
--     SourcePath = "test" .. i, TargetPath = "/cfs/batch" .. i,
--     SecretId = "AKIDEXAMPLEEXAMPLE", SecretKey = "exampleSecretKeyValue" }
-- end
-- local results, summary = client:create_data_flows(list,
--   { progress = function(done, failed, total) end })
-- for i, r in ipairs(results) do
--   print(i, r.ok and r.value.DataFlowId or tostring(r.err))
-- end
function Client:create_data_flows(list, opts)
  return require("cfs.batch").run(self, "CreateDataFlow", list, opts)
end


--- Closes the transport's connections; the client may still be used (it
-- connects again). Also `<close>` in Lua 5.4.
-- @usage
-- local client = require("cfs").new()
-- client:close()
function Client:close()
  if self.transport.close then self.transport:close() end
end
Client.__close = Client.close


Client.VERSION = VERSION
Client.REQUEST_CLIENT = REQUEST_CLIENT

return Client
