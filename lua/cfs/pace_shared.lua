--- A pacer shared by every nginx worker, through a lua_shared_dict:
-- together the workers never send more than `rate` calls of an action a
-- second, as one process with cfs.pace would.
--
--   lua_shared_dict cfs_pace 1m;               # in nginx.conf, http {}
--   local pacer = require("cfs.pace_shared").new { dict = "cfs_pace" }
--   local client = cfs.new { pacer = pacer, ... }
--
-- Time is cut into slots of (1 + slack)/rate seconds (slack 5 % by
-- default, so that a call reaching the service a little late never lands
-- beside a full second's share). A call claims the first free slot with
-- ngx.shared.DICT:add, which is atomic across workers, and waits until
-- its slot begins. A slot's key expires a second after the slot.

local ngx = ngx
local type, error, setmetatable = type, error, setmetatable
local floor, max = math.floor, math.max

local pace_shared = {}

local Pacer = {}
Pacer.__index = Pacer

-- How many taken slots a call steps over before it stops looking.
local MAX_PROBES = 100000


local function now()
  ngx.update_time()
  return ngx.now()
end


--- opts: dict (the lua_shared_dict's name, required), prefix (of its
-- keys, default "cfs:pace:"), clock (seconds; default ngx.now, updated).
function pace_shared.new(opts)
  opts = opts or {}
  if type(opts.dict) ~= "string" then
    error("cfs.pace_shared: option dict must name a lua_shared_dict", 2)
  end
  local dict = ngx and ngx.shared and ngx.shared[opts.dict]
  if not dict then
    error("cfs.pace_shared: no lua_shared_dict '" .. opts.dict
      .. "' in nginx.conf", 2)
  end
  return setmetatable({
    dict = dict, prefix = opts.prefix or "cfs:pace:",
    clock = opts.clock or now,
    slack = opts.slack or 0.05,
  }, Pacer)
end


--- Seconds to wait before sending one call of `action`; the slot is
-- reserved by taking it.
function Pacer:take(action, rate)
  if not rate or rate <= 0 then return 0 end
  -- As in cfs.pace: slots spaced at exactly 1/rate let one late arrival
  -- land beside the next second's full share; keep `slack` under it.
  rate = rate / (1 + self.slack)
  local t = self.clock()
  local dict = self.dict
  local base = self.prefix .. action .. ":"
  local hint_key = base .. "next"
  -- The hint is only where to start looking; add decides who owns a slot.
  local slot = max(floor(t * rate), dict:get(hint_key) or 0)
  for _ = 1, MAX_PROBES do
    local start = slot / rate
    local ttl = start - t + 1 + 1 / rate
    local ok, err = dict:add(base .. slot, true, ttl)
    if ok then
      dict:set(hint_key, slot + 1, ttl)
      return max(0, start - t)
    end
    -- A full dict: this call is paced alone rather than not at all.
    if err ~= "exists" then return max(0, start - t) end
    slot = slot + 1
  end
  return max(0, slot / rate - t)
end


return pace_shared
