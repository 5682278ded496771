-- Keeps the flows across restarts when --state-dir is given: a worker
-- writes state.json (at most once a second, and on exit) when flows changed,
-- and nginx's master reads it back at start.
local util = require("cfs.emulator.util")

local dict, json = util.dict, util.json

local M = {}

local state_file

function M.configure(state_dir)
  state_file = state_dir and state_dir ~= "" and state_dir .. "/state.json"
end

function M.enabled()
  return state_file ~= nil and state_file ~= false
end

local function snapshot()
  local flows = {}
  for n = 1, dict:get("flow_seq") or 0 do
    local id = dict:get("flow_at:" .. n)
    local text = id and dict:get("flow:" .. id)
    if text then flows[#flows + 1] = json.decode(text) end
  end
  return { flows = flows }
end

function M.save_if_dirty()
  if not M.enabled() or not dict:get("dirty") then return end
  if not dict:add("save_lock", true, 10) then return end
  dict:set("dirty", false)
  local text = util.encode(snapshot())
  local ok, err = util.write_file_atomic(state_file, text)
  if not ok then ngx.log(ngx.ERR, "cannot save state: ", err) end
  dict:delete("save_lock")
end

function M.load()
  if not M.enabled() then return end
  local text = util.read_file(state_file)
  if not text then return end
  local state = json.decode(text)
  if type(state) ~= "table" then
    ngx.log(ngx.ERR, "ignoring unreadable state file ", state_file)
    return
  end
  for n, flow in ipairs(state.flows or {}) do
    dict:set("flow:" .. flow.DataFlowId, json.encode(flow))
    dict:set("flow_at:" .. n, flow.DataFlowId)
  end
  dict:set("flow_seq", #(state.flows or {}))
  require("cfs.emulator.flows").recount()
end

return M
