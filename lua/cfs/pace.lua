--- Pacing: a token bucket per action, so that the library never provokes
-- `RequestLimitExceeded` by itself.
--
-- A pacer is any table with `take(self, action, rate)` returning how many
-- seconds the caller must wait before sending (0 when it may send now);
-- taking reserves the slot, so callers that wait the time given never
-- exceed `rate` calls a second. Replace it to share one budget between
-- processes (see cfs.pace.shared for nginx's lua_shared_dict).
-- @module cfs.pace

local max, min = math.max, math.min

local pace = {}

local Bucket = {}
Bucket.__index = Bucket

--- A bucket for one client. `opts.clock` (seconds, monotonic),
-- `opts.burst` (calls allowed at once, default 1: evenly spaced calls) and
-- `opts.slack` (seconds, default 0.05: how late a call may reach the
-- service and still not crowd the one after it).
-- @tab[opt] opts `clock`, `burst`, `slack`
-- @treturn table a pacer
-- @usage
-- local pace = require "cfs.pace"
-- local now = 0
-- local pacer = pace.new { clock = function() return now end }
-- assert(pacer:take("CreateDataFlow", 20) == 0)
-- local wait = pacer:take("CreateDataFlow", 20)
-- assert(wait > 0.05 and wait < 0.06)
function pace.new(opts)
  opts = opts or {}
  return setmetatable({
    clock = opts.clock or require("cfs.core").monotonic,
    burst = opts.burst or 1,
    slack = opts.slack or 0.05,
    actions = {},
  }, Bucket)
end

--- Reserves the next slot for `action`.
-- @string action the API's name of the action
-- @number rate calls a second (0 or nil: no limit)
-- @treturn number seconds to wait before sending
-- @usage
-- local pacer = require("cfs.pace").new()
-- assert(pacer:take("DescribeDataFlow", 0) == 0)
function Bucket:take(action, rate)
  if not rate or rate <= 0 then return 0 end
  -- The service counts calls per second of its clock: spaced at exactly
  -- 1/rate, one call arriving a millisecond late lands in the next second
  -- beside that second's full share. rate + 1 calls must span more than
  -- a second and the slack.
  rate = rate / (1 + self.slack)
  local now = self.clock()
  local state = self.actions[action]
  if not state then
    state = { tokens = self.burst, last = now }
    self.actions[action] = state
  end
  state.tokens = min(self.burst, state.tokens + (now - state.last) * rate)
  state.last = now
  state.tokens = state.tokens - 1
  return max(0, -state.tokens / rate)
end

--- A pacer that never waits.
-- @table none
pace.none = { take = function() return 0 end }

return pace
