--- Retry policy: how many attempts, and how long to wait between them.
--
-- A policy is a table `{ max_attempts =, base_delay =, max_delay = }`
-- plus optional `should_retry(err, attempt, action)` and
-- `delay(attempt, random)` functions that replace the defaults. Which
-- errors are worth retrying at all is `cfs.errors.retryable`; this module
-- only decides whether and when.
-- @module cfs.retry

local random = math.random
local huge = math.huge

local retry = {}

retry.defaults = {
  max_attempts = 4,   -- the first call and up to three more
  base_delay = 0.2,   -- seconds before jitter, doubled each attempt
  max_delay = 5,      -- no wait is longer than this
}

--- Builds a policy from user options (`false` turns retries off).
-- Raises on an unknown option.
-- @tparam[opt] table|bool opts `max_attempts`, `base_delay`, `max_delay`,
-- `should_retry`, `delay`; or false
-- @treturn table the policy
-- @usage
-- local retry = require "cfs.retry"
-- assert(retry.policy(false).max_attempts == 1)
-- assert(retry.policy { max_attempts = 6 }.base_delay == 0.2)
function retry.policy(opts)
  if opts == false then
    return { max_attempts = 1, base_delay = 0, max_delay = 0 }
  end
  opts = opts or {}
  local policy = {}
  for k, v in pairs(retry.defaults) do policy[k] = v end
  for k, v in pairs(opts) do
    if policy[k] == nil and k ~= "should_retry" and k ~= "delay" then
      error("cfs: unknown retry option '" .. tostring(k) .. "'", 3)
    end
    policy[k] = v
  end
  local n = policy.max_attempts
  if type(n) ~= "number" or not (n >= 1 and n <= 100) then
    error("cfs: retry.max_attempts must be a number from 1 to 100", 3)
  end
  for _, name in ipairs { "base_delay", "max_delay" } do
    local v = policy[name]
    if type(v) ~= "number" or not (v >= 0 and v <= 3600) then
      error("cfs: retry." .. name .. " must be seconds from 0 to 3600", 3)
    end
  end
  for _, name in ipairs { "should_retry", "delay" } do
    if policy[name] ~= nil and type(policy[name]) ~= "function" then
      error("cfs: retry." .. name .. " must be a function", 3)
    end
  end
  return policy
end

--- Exponential backoff with full jitter: a uniform wait in
-- [0, min(max_delay, base_delay * 2^(attempt-1))]. Finite, non-negative
-- and at most max_delay for any attempt number.
-- @tab policy a policy (retry.policy)
-- @int attempt the attempt that failed, from 1
-- @tparam[opt] function rand returns a number in [0, 1)
-- @treturn number seconds to wait
-- @usage
-- local retry = require "cfs.retry"
-- local policy = retry.policy {}
-- assert(retry.delay(policy, 3, function() return 1 end) == 0.8)
function retry.delay(policy, attempt, rand)
  if policy.delay then return policy.delay(attempt, rand or random) end
  local cap = policy.max_delay
  if not (cap >= 0 and cap < huge) then cap = retry.defaults.max_delay end
  local ceiling = policy.base_delay * 2 ^ (attempt - 1)
  if not (ceiling <= cap) then ceiling = cap end   -- also catches NaN
  if not (ceiling >= 0) then ceiling = 0 end
  return (rand or random)() * ceiling
end

return retry
