-- The emulator's own configuration (default.json or --config): test keys,
-- regions, file systems, COS buckets and the starting settings. Loaded once
-- by nginx's master, then shared read-only by the forked workers.
local util = require("cfs.emulator.util")

local M = {}

-- Settings an admin may change at run time (PUT /settings).
M.SETTINGS = util.SETTING_NAMES

local DEFAULTS = { rate_limit = 20, pending_seconds = 2,
                   data_flow_limit = 10, clock_offset = 0,
                   timestamp_window = 300, request_log_size = 1000,
                   sts_duration = 0 }

local function index(list, field)
  local out = {}
  for _, item in ipairs(list or {}) do out[item[field]] = item end
  return out
end

-- Bucket addresses compare without scheme case or a trailing slash.
function M.normal_address(address)
  address = address:lower()
  if address:byte(-1) ~= 47 then return address end  -- no trailing "/"
  return (address:gsub("/+$", ""))
end

function M.load(path)
  local text = assert(util.read_file(path))
  local config = assert(util.json.decode(text))
  for name, value in pairs(DEFAULTS) do
    if config[name] == nil then config[name] = value end
  end
  M.raw = config
  M.keys = index(config.keys, "secret_id")
  M.file_systems = index(config.file_systems, "id")
  M.region_optional = {}
  for _, action in ipairs(config.region_optional_actions or {}) do
    M.region_optional[action] = true
  end
  M.regions = {}
  for _, region in ipairs(config.regions or {}) do M.regions[region] = true end
  M.buckets = {}
  for _, bucket in ipairs(config.buckets or {}) do
    M.buckets[M.normal_address(bucket.address)] = bucket
  end
  return config
end

-- Puts the settings into the shared dict, unless an admin changed them.
function M.seed_settings(force)
  for _, name in ipairs(M.SETTINGS) do
    if force or util.dict:get("setting:" .. name) == nil then
      util.set_setting(name, M.raw[name])
    end
  end
end

function M.bucket_accepts(address, secret_id, secret_key)
  local bucket = M.buckets[M.normal_address(address)]
  if not bucket then return false end
  if bucket.any_keys then return secret_id ~= "" and secret_key ~= "" end
  for _, key in ipairs(bucket.keys or {}) do
    if key.secret_id == secret_id and key.secret_key == secret_key then
      return true
    end
  end
  return false
end

return M
