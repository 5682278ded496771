--- The CAM role of a CVM instance: its name, then its temporary keys, from
-- the instance metadata service (plain http, GET):
--   <metadata_url>/latest/meta-data/cam/security-credentials/        role
--   <metadata_url>/latest/meta-data/cam/security-credentials/<role>  keys
-- The keys answer holds TmpSecretId, TmpSecretKey, Token, ExpiredTime.
--
-- Nothing is asked at require time. A host with no metadata service (not
-- a CVM: the name does not resolve, the connection fails or times out)
-- is told so once, within `timeout`; the answer is kept for the process.

local errors = require "cfs.errors"
local http = require "cfs.credentials.http"
local refresh = require "cfs.credentials.refresh"

local type, tostring, tonumber, require = type, tostring, tonumber, require
local match, gsub, format = string.match, string.gsub, string.format
local floor = math.floor

local cvm = {}

cvm.DEFAULT_METADATA_URL = "http://metadata.tencentyun.com"
local ROLE_PATH = "/latest/meta-data/cam/security-credentials/"
local DEFAULT_TIMEOUT = 1

-- Base URLs found to have no metadata service, for the whole process.
local not_cvm = {}

-- Failures that mean nothing answers at that address.
local NO_SERVICE = { ConnectError = true, ConnectTimeout = true,
  Timeout = true }


local function failure(message)
  return nil, errors.new { code = "InvalidCredentials",
    message = "cfs.credentials(cvm_role): " .. message }
end


local json_decode

local function decode(text)
  if not json_decode then
    local cjson = require("cjson.safe").new()
    json_decode = cjson.decode
  end
  return json_decode(text)
end


--- Forgets that addresses had no metadata service (for tests, or a host
-- whose network changed).
function cvm.forget_not_cvm()
  not_cvm = {}
end


--- opts: metadata_url, role, timeout (default 1 s; also the connect
-- timeout), http, and refresh's margin, retry_interval, clock, logger.
function cvm.new(opts)
  opts = opts or {}
  local base = gsub(opts.metadata_url or cvm.DEFAULT_METADATA_URL, "/+$", "")
  if not match(base, "^https?://[^/]+$") then
    error("credentials.cvm_role: metadata_url must be http://host[:port]",
      3)
  end
  local request = opts.http or nil
  local timeout = opts.timeout or DEFAULT_TIMEOUT
  local hopts = { timeout = timeout, connect_timeout = timeout, proxy = "" }
  local role = opts.role

  local function get(path)
    request = request or http.default()
    local status, body = request("GET", base .. path,
      { "Accept: application/json, text/plain" }, nil, hopts)
    if not status and NO_SERVICE[body.code] then
      local _, err = failure(format("no instance metadata service at %s "
        .. "(%s): not a CVM", base, body.code))
      not_cvm[base] = err
      return nil, err
    end
    if not status then
      return failure("metadata service: " .. tostring(body.code) .. ": "
        .. tostring(body.message))
    end
    return status, body
  end

  local function role_name()
    if role then return role end
    local status, body = get(ROLE_PATH)
    if not status then return nil, body end
    if status ~= 200 then
      return failure(format("no CAM role bound to this instance "
        .. "(metadata service answered HTTP %d)", status))
    end
    local name = match(body, "^%s*([%w_%.@%+=,%-]+)%s*$")
    if not name then
      return failure("the metadata service's role name is not a name")
    end
    role = name
    return name
  end

  local function fetch()
    if not_cvm[base] then return nil, not_cvm[base] end
    local name, err = role_name()
    if not name then return nil, err end
    local status, body = get(ROLE_PATH .. name)
    if not status then return nil, body end
    if status ~= 200 then
      if not opts.role then role = nil end
      return failure(format("no keys for role %s (HTTP %d)", name, status))
    end
    -- The body holds the keys: no part of it goes into a message.
    local keys = decode(body)
    if type(keys) ~= "table" or (keys.Code and keys.Code ~= "Success") then
      return failure("the metadata service's keys answer is unreadable")
    end
    local expiry = tonumber(keys.ExpiredTime)
    if type(keys.TmpSecretId) ~= "string" or type(keys.TmpSecretKey)
        ~= "string" or type(keys.Token) ~= "string" or not expiry then
      return failure("the keys answer lacks TmpSecretId, TmpSecretKey, "
        .. "Token or ExpiredTime")
    end
    return true, keys.TmpSecretId, keys.TmpSecretKey, keys.Token,
      floor(expiry)
  end

  local provider = refresh.new("cvm_role", fetch, opts)
  -- A known non-CVM host fails at once, with no refresh logged each time.
  local refreshing_get = provider.get
  function provider.get()
    if not_cvm[base] then return nil, not_cvm[base] end
    return refreshing_get()
  end
  return provider
end

return cvm
