--- The batch engine for nginx (ngx_lua): each started call is sent in
-- its own light thread (ngx.thread.spawn), so up to `concurrency` calls
-- wait on cosockets at once while the worker serves other requests.
--
-- The plan (cfs.batch) decides everything else, as for the libcurl
-- engine: which call starts next, pacing, retries and recovery, the
-- deadline, callbacks, results and summary. A light thread only sends
-- one request and keeps what the transport returned; the plan is touched
-- only by the coroutine that runs the batch, so its state never changes
-- under another thread's feet. That coroutine waits on an ngx.semaphore
-- the threads post to, with the plan's wait as timeout (pacing, retry
-- delays, the deadline), and reaps each ended thread with
-- ngx.thread.wait, one thread at a time: in ngx_lua 0.10.x the threads
-- not returned by a wait on several may later resume their parent in the
-- middle of another yield (a cosocket read then answers `true`).
--
-- In a phase where cosockets cannot run (init, init_worker, log...) every
-- call not already failed gets UnsupportedPhase, before any pacing: the
-- engine never blocks and never spawns there.
-- @module cfs.batch_resty

local errors = require "cfs.errors"
local semaphore = require "ngx.semaphore"

local ngx = ngx -- luacheck: read globals ngx
local error, tostring, pairs, ipairs, pcall, setmetatable, select =
  error, tostring, pairs, ipairs, pcall, setmetatable, select
local sort, unpack = table.sort, table.unpack or unpack
local min, max, ceil, huge = math.min, math.max, math.ceil, math.huge
local spawn, kill, wait_thread =
  ngx.thread.spawn, ngx.thread.kill, ngx.thread.wait

-- The longest single wait on the semaphore (it takes no infinity).
local MAX_WAIT = 60


local function pack(...)
  return { n = select("#", ...), ... }
end


-- Every call without a result gets the phase's refusal.
local function refuse(plan, code, message)
  for i = 1, plan.total do
    local call = plan.calls[i]
    if not call.done then
      plan:finish(call, nil, plan:settle(call, errors.new { code = code,
        message = message, action = plan.action, sent = false }))
    end
  end
end


-- The threads in flight, by call; the calls whose thread has ended.
local Flight = {}
Flight.__index = Flight

local function new_flight()
  return setmetatable({ sema = semaphore.new(), ended = {}, threads = {},
    n = 0 }, Flight)
end


-- In a light thread: what the transport returned (or, if it raised,
-- false and the error), kept for the engine.
local function send(flight, transport, call, request)
  call.answer = pack(pcall(transport.send, transport, request))
  flight.ended[#flight.ended + 1] = call
  flight.sema:post(1)
end


function Flight:start(call, transport, request)
  self.threads[call] = spawn(send, self, transport, call, request)
  self.n = self.n + 1
end


-- Kills every thread in flight; their calls, in list order.
function Flight:abort()
  local list = {}
  for call, thread in pairs(self.threads) do
    kill(thread)
    call.answer = nil
    list[#list + 1] = call
  end
  sort(list, function(a, b) return a.index < b.index end)
  self.threads, self.ended, self.n = {}, {}, 0
  return list
end


-- Waits up to `wait` seconds for a thread to end; hands each ended
-- call's answer to the plan.
function Flight:collect(plan, wait)
  if #self.ended == 0 then self.sema:wait(min(wait, MAX_WAIT)) end
  local ended = self.ended
  self.ended = {}
  for _, call in ipairs(ended) do
    wait_thread(self.threads[call])
    self.threads[call], self.n = nil, self.n - 1
  end
  for _, call in ipairs(ended) do
    local answer = call.answer
    call.answer = nil
    if not answer[1] then
      -- A raising transport is a bug: stop, as the curl engine would.
      self:abort()
      error("cfs.batch_resty: the transport raised: "
        .. tostring(answer[2]), 0)
    end
    plan:answered(call, unpack(answer, 2, answer.n))
  end
end


-- Starts every call the plan allows; the wait it gave for the next. The
-- clock is read again after each start: a spawned thread runs until its
-- first yield (connect, handshake), and a pacing wait counted from an
-- older time would send its call that much early.
local function start_due(plan, flight)
  local transport = plan.client.transport
  local call, wait = plan:next_start(plan.clock())
  while call do
    local request = plan:request(call)
    if request then flight:start(call, transport, request) end
    call, wait = plan:next_start(plan.clock())
  end
  return wait
end


-- ngx.sleep and semaphore waits cut their seconds to whole milliseconds:
-- rounding up keeps a paced call from waking before its slot.
local function whole_ms(seconds)
  return ceil(seconds * 1000) / 1000
end


--- Runs a plan (cfs.batch.plan) to its end with light threads.
-- @tparam table plan the batch's plan
return function(plan)
  local client = plan.client
  local transport = client.transport
  if transport.ready then
    local ok, code, message = transport:ready()
    if not ok then return refuse(plan, code, message) end
  end
  local flight = new_flight()
  while not plan:finished() do
    local now = plan.clock()
    if plan:deadline_passed(now) then
      plan:cut(flight:abort())
      break
    end
    local wait = start_due(plan, flight)
    if plan:finished() then break end
    wait = max(0, min(wait or huge, plan:time_left(plan.clock())))
    if wait < huge then wait = whole_ms(wait) end
    if flight.n > 0 then
      flight:collect(plan, wait)
    elseif wait < huge then
      if wait > 0 then client.sleep(wait) end
    else
      -- Nothing in flight and nothing ever due: a bug in the plan.
      error("cfs.batch_resty: no call in flight and none to start", 0)
    end
  end
end
