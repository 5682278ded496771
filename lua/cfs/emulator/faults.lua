-- Fault injection: the admin adds faults, each request takes the first one
-- that applies. A fault lasts `count` requests, or `seconds`, or until the
-- faults are cleared; `action` limits it to one action; `ratio` (0..1)
-- to that share of the requests, drawn at random.
local util = require("cfs.emulator.util")

local dict, json = util.dict, util.json

local M = {}

M.KINDS = { delay = true, close_before = true, close_after = true,
            http_502 = true, truncated = true, not_json = true,
            error = true, clock_offset = true }

local ERROR_CODES = { RequestLimitExceeded = true, InternalError = true }

local function number_or_nil(value)
  return value == nil or (type(value) == "number" and value >= 0)
end

local function check(t)
  if type(t) ~= "table" or not M.KINDS[t.kind] then
    return nil, "kind must be one of delay, close_before, close_after, "
      .. "http_502, truncated, not_json, error, clock_offset"
  end
  if not number_or_nil(t.count) or not number_or_nil(t.seconds)
     or not number_or_nil(t.delay) then
    return nil, "count, seconds and delay must be numbers >= 0"
  end
  if t.action ~= nil and type(t.action) ~= "string" then
    return nil, "action must be a string"
  end
  if t.ratio ~= nil and not (type(t.ratio) == "number" and t.ratio >= 0
                             and t.ratio <= 1) then
    return nil, "ratio must be a number from 0 to 1"
  end
  if t.kind == "error" and not ERROR_CODES[t.code] then
    return nil, "an error fault needs code RequestLimitExceeded or "
      .. "InternalError"
  end
  if t.kind == "clock_offset" and type(t.offset) ~= "number" then
    return nil, "a clock_offset fault needs a number offset"
  end
  return true
end

function M.list()
  local text = dict:get("faults")
  return text and json.decode(text) or {}
end

function M.add(t)
  local ok, err = check(t)
  if not ok then return nil, err end
  local fault = { id = dict:incr("fault_seq", 1, 0), kind = t.kind,
    count = t.count, action = t.action, delay = t.delay or 1,
    code = t.code, offset = t.offset, ratio = t.ratio,
    ["until"] = t.seconds and ngx.now() + t.seconds or nil }
  local list = M.list()
  list[#list + 1] = fault
  dict:set("faults", json.encode(list))
  util.changed()
  return fault
end

function M.clear()
  dict:delete("faults")
  util.changed()
end

local function applies(fault, action, now)
  if fault.action and fault.action ~= action then return false end
  if fault["until"] and now > fault["until"] then return false end
  -- A share of the requests, drawn per request; count counts only those.
  if fault.ratio and math.random() >= fault.ratio then return false end
  if fault.count then
    -- Counted across workers: the n-th taker beyond count finds none left.
    return dict:incr("fault_used:" .. fault.id, 1, 0) <= fault.count
  end
  return true
end

-- The worker's copy of the faults, as of settings_version (read by
-- util.refresh_settings at the start of each request).
local cached, cached_version = {}, nil

local function current()
  local version = util.settings_version()
  if version == nil or version ~= cached_version then
    local text = dict:get("faults")
    cached, cached_version = text and json.decode(text) or {}, version
  end
  return cached
end

-- The fault for this request (nil if none) and the clock offset to apply.
function M.take(action)
  local list = current()
  if #list == 0 then return nil, 0 end
  local now, chosen, offset = ngx.now(), nil, 0
  local clock_taken = false
  for _, fault in ipairs(list) do
    if fault.kind == "clock_offset" then
      if not clock_taken and applies(fault, action, now) then
        clock_taken, offset = true, fault.offset
      end
    elseif not chosen and applies(fault, action, now) then
      chosen = fault
    end
  end
  return chosen, offset, clock_taken
end

return M
