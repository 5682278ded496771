--- lua-cfs: a client for the Tencent Cloud CFS API (2019-07-19).
--
--   local cfs = require "cfs"
--   local client = cfs.new { region = "ap-guangzhou" }
--   local res, err = client:create_data_flow { ... }
--
-- `cfs.create_data_flow(params)` and every other action's method also
-- work on the module itself, through a default client made on first use
-- from the environment (see cfs.client).

local core = require "cfs.core"
local Client = require "cfs.client"
local api = require "cfs.api"

local cfs = {
  _VERSION = core._VERSION,
  new = Client.new,
  errors = require "cfs.errors",
  credentials = require "cfs.credentials",
}

local default_client

--- The client behind the module-level functions, made on first use.
function cfs.default_client()
  if not default_client then default_client = Client.new() end
  return default_client
end

--- Calls any action with the default client.
function cfs.call(action, params)
  return cfs.default_client():call(action, params)
end

return setmetatable(cfs, {
  __index = function(_, key)
    local action = api.methods[key]
    if not action then return nil end
    local f = function(params)
      return cfs.default_client():call(action, params)
    end
    rawset(cfs, key, f)
    return f
  end,
})
