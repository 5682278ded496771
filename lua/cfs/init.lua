--- lua-cfs: a client for the Tencent Cloud CFS API (2019-07-19).
--
--   local cfs = require "cfs"
--   local client = cfs.new { region = "ap-guangzhou" }
--   local res, err = client:create_data_flow { ... }
--
-- `cfs.create_data_flow(params)` and every other action's method also
-- work on the module itself, through a default client made on first use
-- from the environment (see cfs.client).
-- @module cfs
-- @usage
-- local cfs = require "cfs"
-- local res, err = cfs.describe_data_flow { Limit = 10 }
-- assert(res, tostring(err))
-- print(res.TotalCount)

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

--- Makes a client (cfs.client.new).
-- @function new
-- @tparam[opt] table opts options: see cfs.client.new
-- @treturn cfs.client the client; raises on a wrong option
-- @usage
-- local cfs = require "cfs"
-- local client = cfs.new { region = "ap-guangzhou" }
-- local res, err = client:describe_data_flow { Limit = 10 }
-- assert(res, tostring(err))

--- The client behind the module-level functions, made on first use.
-- @treturn cfs.client made with no options: keys, region and endpoint
-- from the environment
-- @usage
-- local cfs = require "cfs"
-- assert(cfs.default_client() == cfs.default_client())
function cfs.default_client()
  if not default_client then default_client = Client.new() end
  return default_client
end

--- Calls any action with the default client.
-- @string action the API's name of the action, like "DescribeDataFlow"
-- @tparam[opt] table params the action's parameters, in the API's names
-- @treturn[1] table the answer's Response
-- @return[2] nil
-- @treturn[2] cfs.errors the error
-- @usage
-- local cfs = require "cfs"
-- local res, err = cfs.call("DescribeCfsFileSystems", {})
-- assert(res, tostring(err))
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
