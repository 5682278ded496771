-- The emulator's coordinates, from the environment: the names are the
-- ones `bin/cfs-emulator start` prints (endpoint, ca_file, secret_id,
-- secret_key), so `set -a; . DIR/emulator.env; set +a` is enough.
local getenv, pairs, error = os.getenv, pairs, error

local settings = {
  FILE_SYSTEM = "cfs-44d53b63e",
  BUCKET = "https://aileen-data-flow-1251000004.cos.ap-guangzhou"
    .. ".myqcloud.com",
}

--- The options of cfs.new for the emulator, with `extra`'s on top.
function settings.client_options(extra)
  local opts = {
    endpoint = getenv "endpoint", ca_file = getenv "ca_file",
    secret_id = getenv "secret_id", secret_key = getenv "secret_key",
    region = "ap-guangzhou",
  }
  for _, name in pairs { "endpoint", "secret_id", "secret_key" } do
    if not opts[name] then
      error("environment variable " .. name .. " is not set", 2)
    end
  end
  for k, v in pairs(extra or {}) do opts[k] = v end
  return opts
end

return settings
