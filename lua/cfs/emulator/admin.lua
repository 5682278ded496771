-- The admin endpoint (its own port, JSON in and out): health, the stored
-- flows, the request log, faults, settings and reset. See HACKING.md.
local util = require("cfs.emulator.util")
local config = require("cfs.emulator.config")
local faults = require("cfs.emulator.faults")
local flows = require("cfs.emulator.flows")
local reqlog = require("cfs.emulator.reqlog")

local dict, json = util.dict, util.json

local M = {}

local function reply(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(util.encode(value), "\n")
end

local function body_json()
  ngx.req.read_body()
  local value = json.decode(ngx.req.get_body_data() or "")
  if type(value) ~= "table" then return nil end
  return value
end

local function settings_now()
  util.refresh_settings()
  local out = {}
  for _, name in ipairs(config.SETTINGS) do out[name] = util.setting(name) end
  return out
end

local function put_settings()
  local t = body_json()
  if not t then return reply(400, { error = "body must be a JSON object" }) end
  local known = {}
  for _, name in ipairs(config.SETTINGS) do known[name] = true end
  for name, value in pairs(t) do
    if not known[name] or type(value) ~= "number" then
      return reply(400, { error = "unknown setting or not a number: "
                                  .. tostring(name) })
    end
  end
  for name, value in pairs(t) do util.set_setting(name, value) end
  util.refresh_settings()
  reply(200, { ok = true, settings = settings_now() })
end

local function post_fault()
  local fault, err = faults.add(body_json())
  if not fault then return reply(400, { error = err }) end
  reply(200, { ok = true, fault = fault })
end

-- Forgets flows, the request log, faults and counters; keeps settings.
local function reset()
  local kept = settings_now()
  dict:flush_all()
  dict:flush_expired()
  for name, value in pairs(kept) do util.set_setting(name, value) end
  dict:set("dirty", true)
  reply(200, { ok = true })
end

local ROUTES = {
  ["GET /health"] = function() reply(200, { ok = true }) end,
  ["GET /flows"] = function()
    util.refresh_settings()
    local list = flows.all(util.now())
    reply(200, { flows = #list > 0 and list or util.EMPTY_ARRAY })
  end,
  ["GET /requests"] = function()
    local list = reqlog.list()
    reply(200, { requests = #list > 0 and list or util.EMPTY_ARRAY })
  end,
  ["GET /faults"] = function()
    local list = faults.list()
    reply(200, { faults = #list > 0 and list or util.EMPTY_ARRAY })
  end,
  ["POST /faults"] = post_fault,
  ["DELETE /faults"] = function()
    faults.clear()
    reply(200, { ok = true })
  end,
  ["GET /settings"] = function() reply(200, settings_now()) end,
  ["PUT /settings"] = put_settings,
  ["POST /reset"] = reset,
}

function M.handle()
  local route = ROUTES[ngx.req.get_method() .. " " .. ngx.var.uri]
  if not route then return reply(404, { error = "no such admin request" }) end
  local ok, err = pcall(route)
  if not ok then
    ngx.log(ngx.ERR, "admin error: ", tostring(err))
    reply(500, { error = "admin request failed" })
  end
end

return M
