--- Temporary keys, kept and refreshed before they expire.
--
-- refresh.new(name, fetch, opts) -> provider. `fetch()` returns
-- `true, secret_id, secret_key, token, expiry` or `nil, err`. opts:
--   margin          seconds before `expiry` to refresh (default 300)
--   retry_interval  after a failed refresh, seconds the old keys are used
--                   before the next try (default 10; until they expire)
--   clock           Unix seconds (default ngx.time, else os.time)
--   logger          function(level, message); never given a secret
--   wait            how a caller waits for another's refresh (default:
--                   ngx.semaphore under OpenResty, else coroutine.yield
--                   when the caller runs in a coroutine)
--   wait_timeout    seconds a caller waits under OpenResty (default 60)
--
-- One caller refreshes; the others use the old keys while they are still
-- valid, or wait for that refresh. A failed refresh keeps the old keys
-- until they actually expire.

local errors = require "cfs.errors"

local type, tostring, pcall, require, setmetatable =
  type, tostring, pcall, require, setmetatable
local format = string.format
local isyieldable, yield = coroutine.isyieldable, coroutine.yield

local M = {}

local DEFAULT_MARGIN = 300
local DEFAULT_RETRY_INTERVAL = 10
local DEFAULT_WAIT_TIMEOUT = 60


local function invalid(name, message)
  return nil, errors.new { code = "InvalidCredentials",
    message = "cfs.credentials(" .. name .. "): " .. message }
end


--- The keys `ok, id, key, token, expiry` as a table, or nil, err. Says
-- what is wrong without repeating any of the values.
function M.check(name, ok, id, key, token, expiry)
  if ok == nil or ok == false then
    if errors.is(id) then return nil, id end
    return invalid(name, "failed: " .. (type(id) == "string" and id
      or "no reason given"))
  end
  if ok ~= true then
    return invalid(name, "the getter must return true, secret_id, "
      .. "secret_key[, token, expiry], not a " .. type(ok) .. " first")
  end
  if type(id) ~= "string" or id == "" or type(key) ~= "string"
      or key == "" then
    return invalid(name, "secret_id and secret_key must be non-empty "
      .. "strings")
  end
  if token ~= nil and type(token) ~= "string" then
    return invalid(name, "token must be a string or nil")
  end
  if token == "" then token = nil end
  if expiry ~= nil and type(expiry) ~= "number" then
    return invalid(name, "expiry must be a Unix time or nil")
  end
  return { id, key, token, expiry }
end


local function default_clock()
  if type(ngx) == "table" and ngx.time then return ngx.time end
  return os.time
end


-- Under OpenResty, in a phase that may yield: a semaphore's waiters.
local function ngx_semaphore()
  if type(ngx) ~= "table" or not ngx.get_phase then return nil end
  local ok, semaphore = pcall(require, "ngx.semaphore")
  if ok then return semaphore end
  return nil
end


local Refreshing = {}
Refreshing.__index = Refreshing

function Refreshing.__tostring(p)
  return "cfs.credentials(" .. p.name .. ")"
end


function M.new(name, fetch, opts)
  if type(fetch) ~= "function" then
    error("cfs.credentials: the getter must be a function", 3)
  end
  opts = opts or {}
  local margin = opts.margin or DEFAULT_MARGIN
  local retry_interval = opts.retry_interval or DEFAULT_RETRY_INTERVAL
  local clock = opts.clock or default_clock()
  local logger = opts.logger
  local wait_timeout = opts.wait_timeout or DEFAULT_WAIT_TIMEOUT
  local semaphore = not opts.wait and ngx_semaphore()

  -- Private: the keys never sit in a field of the provider.
  local keys, last_err, last_ok, failed_at
  local refreshing, generation, sema, waiters = false, 0, nil, 0
  local self = setmetatable({ name = name }, Refreshing)

  local function log(level, message)
    if logger then pcall(logger, level, tostring(self) .. ": " .. message) end
  end

  local function usable(now, before)
    return keys and (not keys[4] or now < keys[4] - before)
  end

  local function current()
    return true, keys[1], keys[2], keys[3], keys[4]
  end

  -- Waits for the refresh under way to end; false when it cannot wait.
  local function wait_for(gen)
    if semaphore then
      sema = sema or semaphore.new()
      waiters = waiters + 1
      local ran, posted = pcall(sema.wait, sema, wait_timeout)
      if not (ran and posted) then
        waiters = waiters - 1
        return false
      end
      return generation ~= gen
    end
    local wait = opts.wait or (isyieldable() and yield)
    if not wait then return false end
    while generation == gen do wait() end
    return true
  end

  local function wake()
    if sema and waiters > 0 then
      local n = waiters
      waiters = 0
      sema:post(n)
    end
  end

  -- The one refresh; the others wait for it.
  local function refresh_now()
    refreshing = true
    local ran, ok, id, key, token, expiry = pcall(fetch)
    local fresh, err
    if ran then
      fresh, err = M.check(name, ok, id, key, token, expiry)
    else
      fresh, err = invalid(name, "the getter raised an error: "
        .. tostring(ok))
    end
    generation = generation + 1
    refreshing = false
    if fresh then
      keys, last_err, last_ok, failed_at = fresh, nil, true, nil
      log("debug", fresh[4] and format("new keys, valid until %d",
        fresh[4]) or "new keys, with no expiry")
    else
      last_err, last_ok, failed_at = err, false, clock()
      log("warn", "refresh failed: " .. tostring(err.code) .. ": "
        .. tostring(err.message))
    end
    wake()
    return fresh ~= nil, err
  end

  local function busy()
    return invalid(name, "keys are being refreshed by a caller this one "
      .. "cannot wait for")
  end

  function self.get()
    local now = clock()
    if usable(now, margin) then return current() end
    if refreshing then
      if usable(now, 0) then return current() end
      if not wait_for(generation) then return busy() end
      if usable(clock(), 0) then return current() end
      return nil, last_err
    end
    if failed_at and now < failed_at + retry_interval and usable(now, 0) then
      return current()
    end
    local ok, err = refresh_now()
    if ok or usable(clock(), 0) then return current() end
    return nil, err
  end

  --- New keys now (after the service refused these): true when it got
  -- them. A caller arriving during a refresh shares its outcome.
  function self.refresh()
    if refreshing then
      if not wait_for(generation) then return false end
      return last_ok == true
    end
    return (refresh_now())
  end

  --- Forgets the keys (the next get fetches new ones).
  function self.forget()
    keys, failed_at = nil, nil
  end

  return self
end


return M
