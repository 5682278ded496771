--- Temporary keys from STS (service sts, version 2018-08-13):
-- AssumeRole, signed with TC3 by a base provider's keys, and
-- AssumeRoleWithWebIdentity (TKE OIDC), sent with `Authorization: SKIP`
-- as the official SDKs send it. Both answer Credentials.TmpSecretId,
-- TmpSecretKey, Token and ExpiredTime.

local errors = require "cfs.errors"
local http = require "cfs.credentials.http"
local refresh = require "cfs.credentials.refresh"
local endpoint = require "cfs.endpoint"

local type, tostring, tonumber, require, open = type, tostring, tonumber,
  require, io.open
local ipairs, pairs = ipairs, pairs
local floor = math.floor
local match, format = string.match, string.format
local getenv = os.getenv

local sts = {}

sts.DEFAULT_ENDPOINT = "https://sts.tencentcloudapi.com"
local SERVICE = "sts"
local VERSION = "2018-08-13"
local CONTENT_TYPE = "application/json"
local DEFAULT_REGION = "ap-guangzhou"
local DEFAULT_DURATION = 7200

local ASSUME_ROLE = {
  { "RoleArn", "string", required = true },
  { "RoleSessionName", "string", required = true },
  { "DurationSeconds", "uint" },
  { "Policy", "string" },
}

local WEB_IDENTITY = {
  { "ProviderId", "string", required = true },
  { "WebIdentityToken", "string", required = true },
  { "RoleArn", "string", required = true },
  { "RoleSessionName", "string", required = true },
  { "DurationSeconds", "uint" },
}


local function failure(name, message, fields)
  fields = fields or {}
  fields.code = fields.code or "InvalidCredentials"
  fields.message = "cfs.credentials(" .. name .. "): " .. message
  return nil, errors.new(fields)
end


-- The URL and Host of an endpoint (a host, or an http(s) URL).
local function endpoint_parts(text, insecure_http, who)
  local url, host = endpoint.parse(text, insecure_http)
  if not url then error(who .. ": " .. host, 4) end
  return url, host
end


-- One STS action: the Response table, or nil, err.
local function call(self, action, input, params, keys)
  local core = require "cfs.core"
  local body, code, _, message = core.encode(params, input)
  if not body then return failure(self.name, message, { code = code }) end
  local timestamp = floor(self.clock())
  local authorization = "SKIP"
  if keys then
    self.signer = self.signer or core.signer()
    authorization = self.signer:sign(keys[1], keys[2], timestamp, SERVICE,
      self.host, CONTENT_TYPE, body)
  end
  local headers = {
    "Authorization: " .. authorization,
    "Content-Type: " .. CONTENT_TYPE,
    "Host: " .. self.host,
    "X-TC-Action: " .. action,
    "X-TC-Timestamp: " .. format("%d", timestamp),
    "X-TC-Version: " .. VERSION,
    "X-TC-Region: " .. self.region,
    "Expect:",
  }
  if keys and keys[3] then headers[#headers + 1] = "X-TC-Token: " .. keys[3] end
  self.request = self.request or http.default()
  local status, answer = self.request("POST", self.url, headers, body,
    self.http_opts)
  if not status then
    return failure(self.name, action .. ": " .. tostring(answer.message),
      { code = answer.code })
  end
  local response, err_code, err_message, request_id =
    core.decode(status, answer)
  if not response then
    return failure(self.name, action .. ": " .. tostring(err_message),
      { code = err_code, request_id = request_id })
  end
  return response
end


-- The keys of an STS answer (which holds them: nothing of it is quoted).
local function answer_keys(self, response)
  local c = response.Credentials
  local expiry = tonumber(response.ExpiredTime)
  if type(c) ~= "table" or type(c.TmpSecretId) ~= "string"
      or type(c.TmpSecretKey) ~= "string" or type(c.Token) ~= "string"
      or not expiry then
    return failure(self.name, "the STS answer lacks Credentials or "
      .. "ExpiredTime", { code = "InvalidResponse" })
  end
  return true, c.TmpSecretId, c.TmpSecretKey, c.Token, floor(expiry)
end


local function common(name, opts, who)
  local self = { name = name }
  self.url, self.host = endpoint_parts(opts.endpoint or sts.DEFAULT_ENDPOINT,
    opts.insecure_http, who)
  self.region = opts.region or DEFAULT_REGION
  self.clock = opts.clock or (type(ngx) == "table" and ngx.time) or os.time
  self.request = opts.http
  self.http_opts = { timeout = opts.timeout or 10, ca_file = opts.ca_file,
    connect_timeout = opts.connect_timeout or 5, proxy = opts.proxy }
  self.duration = opts.duration or DEFAULT_DURATION
  self.session_name = opts.role_session_name
  return self
end


local function session_name(self, prefix)
  return self.session_name or (prefix .. format("%d", floor(self.clock())))
end


--- AssumeRole. opts: role_arn (required), credentials (the base
-- provider, default credentials.default()), role_session_name, duration
-- (seconds, default 7200), policy, region, endpoint, insecure_http,
-- timeout, connect_timeout, ca_file, proxy, http, and refresh's options.
function sts.assume_role(opts)
  local who = "credentials.assume_role"
  if type(opts) ~= "table" or type(opts.role_arn) ~= "string" then
    error(who .. ": opts.role_arn must be a string", 2)
  end
  local self = common("assume_role", opts, who)
  local base = opts.credentials

  local function fetch()
    base = base or require("cfs.credentials").default()
    local ok, id, key, token = base:get()
    if not ok then return nil, id end
    local response, err = call(self, "AssumeRole", ASSUME_ROLE, {
      RoleArn = opts.role_arn,
      RoleSessionName = session_name(self, "cfs-lua-"),
      DurationSeconds = self.duration, Policy = opts.policy,
    }, { id, key, token })
    if not response then return nil, err end
    return answer_keys(self, response)
  end

  return refresh.new("assume_role", fetch, opts)
end


local function read_token(path)
  local f, err = open(path, "rb")
  if not f then return nil, err end
  local text = f:read "*a"
  f:close()
  return match(text or "", "^%s*(.-)%s*$")
end


--- AssumeRoleWithWebIdentity. opts: provider_id, web_identity_token_file
-- (read at each refresh: the platform rotates it), role_arn (all
-- required), role_session_name, duration, region, endpoint, and the
-- transport and refresh options of assume_role.
function sts.web_identity(opts)
  local who = "credentials.web_identity"
  opts = opts or {}
  for _, name in ipairs { "provider_id", "web_identity_token_file",
      "role_arn" } do
    if type(opts[name]) ~= "string" or opts[name] == "" then
      error(who .. ": opts." .. name .. " must be a string", 2)
    end
  end
  local self = common(opts.name or "web_identity", opts, who)

  local function fetch()
    local token = read_token(opts.web_identity_token_file)
    if not token or token == "" then
      return failure(self.name, "cannot read the web identity token file "
        .. opts.web_identity_token_file)
    end
    local response, err = call(self, "AssumeRoleWithWebIdentity",
      WEB_IDENTITY, {
        ProviderId = opts.provider_id, WebIdentityToken = token,
        RoleArn = opts.role_arn,
        RoleSessionName = session_name(self, "cfs-lua-"),
        DurationSeconds = self.duration,
      })
    if not response then return nil, err end
    return answer_keys(self, response)
  end

  return refresh.new(self.name, fetch, opts)
end


sts.TKE_VARIABLES = { "TKE_REGION", "TKE_PROVIDER_ID",
  "TKE_WEB_IDENTITY_TOKEN_FILE", "TKE_ROLE_ARN" }


--- The TKE OIDC provider, from the TKE_* variables; nil, err naming the
-- first missing one when they are not all set. `opts` adds or overrides
-- options of web_identity.
function sts.tke_oidc_from_env(opts)
  local values = {}
  for _, name in ipairs(sts.TKE_VARIABLES) do
    local value = getenv(name)
    if not value or value == "" then
      return failure("tke_oidc", name .. " is not set")
    end
    values[name] = value
  end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.name = "tke_oidc"
  o.region = o.region or values.TKE_REGION
  o.provider_id = o.provider_id or values.TKE_PROVIDER_ID
  o.web_identity_token_file = o.web_identity_token_file
    or values.TKE_WEB_IDENTITY_TOKEN_FILE
  o.role_arn = o.role_arn or values.TKE_ROLE_ARN
  return sts.web_identity(o)
end


return sts
