--- Where the API keys come from.
--
-- A provider is a table with a `get` method returning
-- `true, secret_id, secret_key, token, expiry` or `nil, err`: a key can
-- never land where an error is expected. `expiry` is a Unix time or nil.
--
-- Environment variables read by `credentials.env`:
--   TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY,
--   TENCENTCLOUD_SESSION_TOKEN (optional).
-- The profile file (`credentials.profile`): TENCENTCLOUD_CREDENTIALS_FILE,
-- else ~/.tencentcloud/credentials, else /etc/tencentcloud/credentials;
-- an INI file whose section (default `[default]`) holds `secret_id`,
-- `secret_key` and optionally `token`.

local errors = require "cfs.errors"

local getenv, open = os.getenv, io.open
local match, gsub = string.match, string.gsub
local type, ipairs, setmetatable = type, ipairs, setmetatable

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
function credentials.static(secret_id, secret_key, token)
  if type(secret_id) ~= "string" or type(secret_key) ~= "string" then
    error("credentials.static: secret_id and secret_key must be strings", 2)
  end
  return provider("static", function()
    return true, secret_id, secret_key, token
  end)
end

--- Keys from the environment, read on each call.
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

--- The first provider that gives keys.
function credentials.chain(providers)
  return provider("chain", function()
    local reasons = {}
    for _, p in ipairs(providers) do
      local ok, id, key, token, expiry = p:get()
      if ok then return true, id, key, token, expiry end
      reasons[#reasons + 1] = p.name .. ": " .. (id and id.message or "?")
    end
    return no_credentials("no credentials: " .. table.concat(reasons, "; "))
  end)
end

--- What a client uses without explicit keys: environment, then profile.
function credentials.default(opts)
  return credentials.chain {
    credentials.env(),
    credentials.profile(opts),
  }
end

return credentials
