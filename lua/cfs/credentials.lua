--- Where the API keys come from.
--
-- A provider is a table with a `get` method returning
-- `true, secret_id, secret_key, token, expiry` or `nil, err`: a key can
-- never land where an error is expected. `expiry` is a Unix time or nil.
-- Providers of temporary keys also have `refresh` (new keys now: true or
-- false), which the client calls once after AuthFailure.TokenFailure.
-- No provider's tostring, error or log line holds a secret key or token.
--
-- The default chain (the official SDKs' order): environment, profile
-- file, the CVM instance's CAM role, then TKE OIDC when its variables
-- are set. Explicit keys given to cfs.new come before all of these.
--
-- Environment variables:
--   TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY,
--   TENCENTCLOUD_SESSION_TOKEN (optional)        credentials.env
--   TENCENTCLOUD_CREDENTIALS_FILE                credentials.profile
--   TKE_REGION, TKE_PROVIDER_ID, TKE_WEB_IDENTITY_TOKEN_FILE,
--   TKE_ROLE_ARN                                 credentials.tke_oidc
--   CFS_METADATA_URL    the metadata service's base URL for the default
--                       chain's CVM role ("off": leave the role out)
--   CFS_STS_ENDPOINT    the STS endpoint for the default chain's TKE OIDC
-- The profile file (`credentials.profile`): TENCENTCLOUD_CREDENTIALS_FILE,
-- else ~/.tencentcloud/credentials, else /etc/tencentcloud/credentials;
-- an INI file whose section (default `[default]`) holds `secret_id`,
-- `secret_key` and optionally `token`.
--
-- See docs/credentials.md for every provider's options.
-- @module cfs.credentials

local errors = require "cfs.errors"

local getenv, open = os.getenv, io.open
local match, gsub, find = string.match, string.gsub, string.find
local type, ipairs, pairs, tostring, require, setmetatable =
  type, ipairs, pairs, tostring, require, setmetatable

local credentials = {}

local function no_credentials(message)
  return nil, errors.new { code = "InvalidCredentials", message = message }
end

local Provider = {}
Provider.__index = Provider

function Provider.__tostring(p)
  return "cfs.credentials(" .. p.name .. ")"
end

local function provider(name, get)
  return setmetatable({ name = name, get = get }, Provider)
end

--- Keys given by the caller.
-- @string secret_id the API key's id
-- @string secret_key the API key
-- @tparam[opt] string token for temporary keys
-- @treturn table a provider
-- @usage
-- local credentials = require "cfs.credentials"
-- local ok, id = credentials.static("AKIDEXAMPLE", "example"):get()
-- assert(ok and id == "AKIDEXAMPLE")
function credentials.static(secret_id, secret_key, token)
  if type(secret_id) ~= "string" or type(secret_key) ~= "string" then
    error("credentials.static: secret_id and secret_key must be strings", 2)
  end
  return provider("static", function()
    return true, secret_id, secret_key, token
  end)
end

--- Keys from the environment, read on each call.
-- @treturn table a provider
-- @usage
-- local credentials = require "cfs.credentials"
-- local ok, id = credentials.env():get()
-- assert(ok and id == os.getenv "TENCENTCLOUD_SECRET_ID")
function credentials.env()
  return provider("env", function()
    local id, key = getenv "TENCENTCLOUD_SECRET_ID",
      getenv "TENCENTCLOUD_SECRET_KEY"
    if not id or id == "" or not key or key == "" then
      return no_credentials("TENCENTCLOUD_SECRET_ID and "
        .. "TENCENTCLOUD_SECRET_KEY are not both set")
    end
    local token = getenv "TENCENTCLOUD_SESSION_TOKEN"
    return true, id, key, token ~= "" and token or nil
  end)
end

-- The key = value pairs of one [section] of an INI text.
local function ini_section(text, section)
  local current, found = nil, nil
  for line in (text .. "\n"):gmatch "([^\r\n]*)\r?\n" do
    line = gsub(line, "^%s+", "")
    local name = match(line, "^%[%s*([^%]]-)%s*%]")
    if name then
      current = name
      if name == section then found = found or {} end
    elseif current == section and line ~= "" and not match(line, "^[#;]")
    then
      local k, v = match(line, "^([%w_%.%-]+)%s*=%s*(.-)%s*$")
      if k then found[k] = v end
    end
  end
  return found
end

local function profile_paths(file)
  if file then return { file } end
  local env_file = getenv "TENCENTCLOUD_CREDENTIALS_FILE"
  if env_file and env_file ~= "" then return { env_file } end
  local paths, home = {}, getenv "HOME"
  if home and home ~= "" then
    paths[#paths + 1] = home .. "/.tencentcloud/credentials"
  end
  paths[#paths + 1] = "/etc/tencentcloud/credentials"
  return paths
end

--- Keys from the profile file; `opts.file`, `opts.profile` (section name).
-- @tab[opt] opts `file`, `profile`
-- @treturn table a provider
-- @usage
-- local credentials = require "cfs.credentials"
-- local ok, err = credentials.profile { file = "/nonexistent" }:get()
-- assert(ok == nil and err.code == "InvalidCredentials")
function credentials.profile(opts)
  opts = opts or {}
  local section = opts.profile or "default"
  return provider("profile", function()
    for _, path in ipairs(profile_paths(opts.file)) do
      local f = open(path, "r")
      if f then
        local text = f:read "*a"
        f:close()
        local values = ini_section(text or "", section)
        if not values then
          return no_credentials("no [" .. section .. "] section in " .. path)
        end
        if not values.secret_id or not values.secret_key then
          return no_credentials("[" .. section .. "] in " .. path
            .. " lacks secret_id or secret_key")
        end
        local token = values.token
        return true, values.secret_id, values.secret_key,
          token ~= "" and token or nil
      end
    end
    return no_credentials("no credentials file found")
  end)
end

-- A provider from a user's function returning true, id, key, token,
-- expiry; its answers are checked, so a key never lands in `err`.
local function from_function(fn, name)
  local refresh = require "cfs.credentials.refresh"
  name = name or "function"
  return provider(name, function()
    local keys, err = refresh.check(name, fn())
    if not keys then return nil, err end
    return true, keys[1], keys[2], keys[3], keys[4]
  end)
end


local function as_provider(p, who)
  if type(p) == "function" then return from_function(p) end
  if type(p) ~= "table" or type(p.get) ~= "function" then
    error(who .. ": a provider is a table with get() or a function", 3)
  end
  return p
end


--- Keys from `fetch()` (returning true, id, key, token, expiry), kept
-- and refreshed `opts.margin` seconds (default 300) before they expire;
-- see cfs.credentials.refresh for the options.
-- @tparam function fetch returns true, id, key, token, expiry or nil, err
-- @tab[opt] opts `margin`, `name`, and refresh's options
-- @treturn table a provider with `refresh`
-- @usage
-- local credentials = require "cfs.credentials"
-- local p = credentials.refreshing(function()
--   return true, "AKIDTEMP", "temp-key", "token", os.time() + 3600
-- end)
-- local ok, id, _, token = p:get()
-- assert(ok and id == "AKIDTEMP" and token == "token")
function credentials.refreshing(fetch, opts)
  opts = opts or {}
  return require("cfs.credentials.refresh").new(opts.name or "refreshing",
    fetch, opts)
end


--- The CVM instance's CAM role; see cfs.credentials.cvm.
-- @tab[opt] opts `metadata_url`, `role`, `timeout`, `http`, and
-- refresh's options
-- @treturn table a provider with `refresh`
-- @usage
-- local credentials = require "cfs.credentials"
-- local p = credentials.cvm_role { metadata_url = "http://127.0.0.1:9" }
-- assert(type(p.get) == "function")
function credentials.cvm_role(opts)
  return require("cfs.credentials.cvm").new(opts)
end


--- STS AssumeRole; see cfs.credentials.sts.
-- @tab opts `role_arn` (required), `credentials`, `role_session_name`,
-- `duration`, `policy`, `region`, `endpoint` and transport options
-- @treturn table a provider with `refresh`
-- @usage
-- local credentials = require "cfs.credentials"
-- local p = credentials.assume_role {
--   role_arn = "qcs::cam::uin/100000000001:roleName/cfs-reader",
--   endpoint = "http://127.0.0.1:9" }
-- assert(type(p.get) == "function")
function credentials.assume_role(opts)
  return require("cfs.credentials.sts").assume_role(opts)
end


--- STS AssumeRoleWithWebIdentity; see cfs.credentials.sts.
-- @tab opts `provider_id`, `web_identity_token_file`, `role_arn` (all
-- required) and assume_role's other options
-- @treturn table a provider with `refresh`
-- @usage
-- local credentials = require "cfs.credentials"
-- local p = credentials.web_identity { provider_id = "OIDC",
--   web_identity_token_file = "/nonexistent/token",
--   role_arn = "qcs::cam::uin/100000000001:roleName/cfs-reader",
--   endpoint = "http://127.0.0.1:9" }
-- assert(type(p.get) == "function")
function credentials.web_identity(opts)
  return require("cfs.credentials.sts").web_identity(opts)
end


--- TKE OIDC: web_identity from the TKE_* variables, read at the first
-- get. Until they are all set, get answers nil, err.
-- @tab[opt] opts web_identity's options, added or overriding
-- @treturn table a provider with `refresh`
-- @usage
-- local credentials = require "cfs.credentials"
-- local p = credentials.tke_oidc()
-- assert(type(p.get) == "function")
function credentials.tke_oidc(opts)
  local inner
  local p = provider("tke_oidc", function()
    if not inner then
      local made, err = require("cfs.credentials.sts")
        .tke_oidc_from_env(opts)
      if not made then return nil, err end
      inner = made
    end
    return inner:get()
  end)
  p.refresh = function()
    return inner ~= nil and inner:refresh()
  end
  return p
end


--- The first provider that gives keys. `refresh` goes to the provider
-- that gave the last keys.
-- @tab providers providers (tables with `get`) or functions
-- @treturn table a provider with `refresh`
-- @usage
-- local credentials = require "cfs.credentials"
-- local p = credentials.chain { credentials.profile { file = "/nonexistent" },
--   credentials.static("AKIDEXAMPLE", "example") }
-- assert(select(2, p:get()) == "AKIDEXAMPLE")
function credentials.chain(providers)
  local list = {}
  for i, p in ipairs(providers) do
    list[i] = as_provider(p, "credentials.chain")
  end
  local last
  local p = provider("chain", function()
    local reasons = {}
    for _, each in ipairs(list) do
      local ok, id, key, token, expiry = each:get()
      if ok then
        last = each
        return true, id, key, token, expiry
      end
      local reason = tostring(type(id) == "table" and id.message or "?")
      if not find(reason, "^cfs%.credentials%(") then
        reason = tostring(each.name) .. ": " .. reason
      end
      reasons[#reasons + 1] = reason
    end
    return no_credentials("no credentials: " .. table.concat(reasons, "; "))
  end)
  p.refresh = function()
    return last ~= nil and last.refresh ~= nil and last:refresh() == true
  end
  return p
end


local function default_metadata_url(opts)
  if opts.metadata_url then return opts.metadata_url end
  local url = getenv "CFS_METADATA_URL"
  if url and url ~= "" then return url end
  return nil
end


--- What a client uses without explicit keys: environment, profile file,
-- CVM role, TKE OIDC. opts: `file` and `profile` (the profile file),
-- `metadata_url`, `endpoint` (STS, for TKE OIDC), and `http`, `clock`,
-- `margin`, `logger` for the role providers.
-- @tab[opt] opts as above
-- @treturn table a provider with `refresh`
-- @usage
-- local credentials = require "cfs.credentials"
-- local ok = credentials.default { metadata_url = "off" }:get()
-- assert(ok)
function credentials.default(opts)
  opts = opts or {}
  local list = { credentials.env(), credentials.profile(opts) }
  local metadata_url = default_metadata_url(opts)
  local role_opts = { http = opts.http, clock = opts.clock,
    margin = opts.margin, logger = opts.logger, timeout = opts.timeout }
  if metadata_url ~= "off" then
    local cvm_opts = { metadata_url = metadata_url }
    for k, v in pairs(role_opts) do cvm_opts[k] = v end
    list[#list + 1] = credentials.cvm_role(cvm_opts)
  end
  local sts_endpoint = opts.endpoint or getenv "CFS_STS_ENDPOINT"
  if sts_endpoint == "" then sts_endpoint = nil end
  local tke_opts = { endpoint = sts_endpoint }
  for k, v in pairs(role_opts) do tke_opts[k] = v end
  list[#list + 1] = credentials.tke_oidc(tke_opts)
  return credentials.chain(list)
end

return credentials
