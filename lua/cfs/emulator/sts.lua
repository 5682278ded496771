-- STS (service sts, version 2018-08-13) on the API port: AssumeRole,
-- signed with TC3 by a configured key, and AssumeRoleWithWebIdentity,
-- unsigned, checked against the configured web identities. Requests are
-- told apart from CFS ones by X-TC-Action. The temporary keys issued go
-- into the shared dict, and the CFS side accepts them (with their token)
-- until they expire by the emulator's clock.
--
-- Config: `roles` (list of `{ "arn": ... }`), `web_identities` (list of
-- `{ "provider_id", "token", "role_arn" }`). Setting `sts_duration`
-- (seconds, 0: as requested) shortens the keys' life for tests.
local util = require("cfs.emulator.util")
local config = require("cfs.emulator.config")
local tc3 = require("cfs.emulator.tc3")

local dict = util.dict

local M = {}

M.VERSION = "2018-08-13"
M.ACTIONS = { AssumeRole = true, AssumeRoleWithWebIdentity = true }

local DEFAULT_DURATION = 7200
local MAX_DURATION = 43200

-- UNCONFIRMED: the code the service gives a web identity token it
-- refuses; the STS error list names no such code in older versions.
local BAD_WEB_TOKEN = "InvalidParameter.WebIdentityTokenError"

-- The issued key `secret_id`, as config.keys holds keys, or nil.
function M.issued_key(secret_id)
  local text = dict:get("sts_key:" .. secret_id)
  return text and util.json.decode(text) or nil
end

local ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

local function random_text(n)
  local out = {}
  for i = 1, n do
    local k = math.random(1, #ALNUM)
    out[i] = ALNUM:sub(k, k)
  end
  return table.concat(out)
end

local function issue(now, duration, role_arn)
  local setting = util.setting("sts_duration") or 0
  if setting > 0 then duration = setting end
  local expiry = math.floor(now) + duration
  local key = { secret_id = "AKIDsts" .. random_text(29),
                secret_key = random_text(32),
                token = "sts-" .. random_text(60), expiry = expiry,
                role_arn = role_arn }
  dict:set("sts_key:" .. key.secret_id, util.json.encode(key))
  return { Credentials = { TmpSecretId = key.secret_id,
                           TmpSecretKey = key.secret_key, Token = key.token },
           ExpiredTime = expiry,
           Expiration = os.date("!%Y-%m-%dT%H:%M:%SZ", expiry) }
end

local function known_role(arn)
  for _, role in ipairs(config.raw.roles or {}) do
    if role.arn == arn then return true end
  end
  return false
end

-- Fields every STS action shares: strings present, duration in range.
local function check_params(c, params, names)
  for _, name in ipairs(names) do
    if params[name] == nil then c.missing(name) end
    if type(params[name]) ~= "string" or params[name] == "" then
      c.reject("InvalidParameter.ParamError", name .. " must be a string.")
    end
  end
  local duration = params.DurationSeconds or DEFAULT_DURATION
  if type(duration) ~= "number" or duration < 1
     or duration ~= math.floor(duration) then
    c.reject("InvalidParameter.ParamError",
             "DurationSeconds must be a positive integer.")
  end
  if duration > MAX_DURATION then
    c.reject("InvalidParameter.OverTimeError",
             "DurationSeconds exceeds " .. MAX_DURATION .. ".")
  end
  if not known_role(params.RoleArn) then
    c.reject("ResourceNotFound.RoleNotFound", "The role does not exist.")
  end
  return duration
end

local function assume_role(req, c, params)
  local duration = check_params(c, params, { "RoleArn", "RoleSessionName" })
  return issue(req.now, duration, params.RoleArn)
end

local function web_identity(req, c, params)
  local duration = check_params(c, params, { "ProviderId",
    "WebIdentityToken", "RoleArn", "RoleSessionName" })
  for _, id in ipairs(config.raw.web_identities or {}) do
    if id.provider_id == params.ProviderId and id.role_arn == params.RoleArn
       and id.token == params.WebIdentityToken then
      return issue(req.now, duration, params.RoleArn)
    end
  end
  c.reject(BAD_WEB_TOKEN, "The web identity token is not valid for the "
           .. "provider and role.")
end

-- The signature, as server.lua checks CFS's, with service sts.
local function check_signature(req, c, auth, key, body)
  local date = tc3.utc_date(req.timestamp)
  if auth.date ~= date or auth.service ~= "sts" then
    c.reject("AuthFailure.SignatureFailure", "The credential scope does "
             .. "not match the request's date or sts.")
  end
  for _, name in ipairs(auth.names) do
    if type(req.headers[name]) == "table" then
      c.reject("InvalidParameter", "A signed header is repeated.")
    end
  end
  local payload = tc3.sha256_hex(body)
  for _, lower in ipairs({ false, true }) do
    local canonical = tc3.canonical_request("POST", req.headers, auth.names,
      auth.signed_headers, payload, lower)
    local expected = tc3.signature(key.secret_key, req.timestamp, date,
                                   "sts", canonical)
    if tc3.same(expected, auth.signature) then return end
  end
  c.reject("AuthFailure.SignatureFailure",
           "The request signature we calculated does not match.")
end

-- What the request log keeps: the parameters, the token masked.
local function logged(params)
  local out = {}
  for k, v in pairs(params) do out[k] = v end
  if out.WebIdentityToken then out.WebIdentityToken = "***" end
  return out
end

-- c: server.lua's checks (single, missing, reject, check_timestamp,
-- parse_authorization, find_key, check_token, read_body, parse_body).
-- Judges as server.lua does, with service sts.
function M.judge(req, c)
  local headers, action = req.headers, req.action
  local version = c.single(headers, "x-tc-version", "Version")
  if version ~= M.VERSION then
    c.reject("NoSuchVersion", "The API version `" .. version
             .. "` does not exist for sts.")
  end
  req.now = util.now(req.clock_offset)
  req.timestamp = c.check_timestamp(headers, req.now)
  local body
  if action == "AssumeRole" then
    local auth = c.parse_authorization(headers)
    req.secret_id = auth.secret_id
    local key = c.find_key(auth, req.now)
    c.check_token(headers, key)
    body = c.read_body()
    check_signature(req, c, auth, key, body)
  else
    body = c.read_body()
  end
  local region = c.single(headers, "x-tc-region")
  if region and region ~= "" and not config.regions[region] then
    c.reject("UnsupportedRegion", "The region `" .. region
             .. "` is not supported.")
  end
  local params = c.parse_body(body)
  if #body <= 65536 then req.params = logged(params) end
  if action == "AssumeRole" then return assume_role(req, c, params) end
  return web_identity(req, c, params)
end

return M
