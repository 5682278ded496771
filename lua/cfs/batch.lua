--- Many calls of one action at once, with each call's own retries.
--
--   local results, summary = client:batch("CreateDataFlow", list, {
--     concurrency = 16, deadline = 60,
--     progress = function(done, failed, total) end,
--     on_result = function(i, result) end,
--   })
--   -- results[i] = { ok = true, value = response, attempts = n }
--   --            | { ok = false, err = err, attempts = n }  for list[i]
--   -- summary = { succeeded, failed, by_code, attempts, elapsed }
--
-- Two parts. The policy is a plan (batch.plan): which call starts next
-- (retries that are due, then the list in order), when it may start (the
-- client's pacer, shared with single calls; at most `concurrency` calls
-- in flight or reserved), what a failed attempt leads to (the client's
-- next_step and recover, as for a single call), the deadline, the
-- callbacks, the results and the summary. The engine only moves
-- transfers: it asks plan:next_start(now) for a call to send, sends
-- plan:request(call), hands what came back to plan:answered(call, ...),
-- waits no longer than the wait next_start gave, and when
-- plan:deadline_passed(now) aborts what it has in flight and calls
-- plan:cut(calls_in_flight). Here the engine is libcurl's multi handle
-- (engines.curl); under nginx, cfs.batch_resty sends each started call
-- in an ngx.thread light thread and sleeps with ngx.sleep (chosen when
-- the transport has `light_threads`): the plan is the same, so the
-- semantics are too.
-- @module cfs.batch

local core = require "cfs.core"
local api = require "cfs.api"
local errors = require "cfs.errors"

local type, pcall, tostring, error, setmetatable, ipairs, pairs =
  type, pcall, tostring, error, setmetatable, ipairs, pairs
local remove, sort = table.remove, table.sort
local min, max, ceil, huge = math.min, math.max, math.ceil, math.huge
local format = string.format

local batch = {}

local Plan = {}
Plan.__index = Plan

-- The longest a curl engine waits in one go: keeps it responsive to a
-- deadline even when nothing is due.
local MAX_WAIT = 1


local function check_opts(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error("cfs.batch: opts must be a table, got " .. type(opts), 4)
  end
  local kinds = { concurrency = "number", progress = "function",
    deadline = "number", on_result = "function", clock = "function" }
  for name, value in pairs(opts) do
    if not kinds[name] then
      error("cfs.batch: unknown option '" .. tostring(name) .. "'", 4)
    end
    if type(value) ~= kinds[name] then
      error("cfs.batch: option " .. name .. " must be a " .. kinds[name], 4)
    end
  end
  if opts.concurrency and not (opts.concurrency >= 1) then
    error("cfs.batch: concurrency must be at least 1", 4)
  end
  return opts
end


--- A plan for calling `action` once per element of `list`. Encodes
-- every element first: bad params become that element's error at once.
function batch.plan(client, action, list, opts)
  if type(action) ~= "string" then
    error("cfs.batch: action must be a string, got " .. type(action), 3)
  end
  if type(list) ~= "table" then
    error("cfs.batch: list must be a table, got " .. type(list), 3)
  end
  opts = check_opts(opts)
  local clock = opts.clock or core.monotonic
  local now = clock()
  local desc = api.actions[action]
  local self = setmetatable({
    client = client, action = action, clock = clock, started = now,
    mutates = desc == nil or desc.mutates,
    concurrency = opts.concurrency or client.concurrency or 8,
    deadline = opts.deadline and now + opts.deadline or huge,
    progress = opts.progress, on_result = opts.on_result,
    total = #list, calls = {}, results = {}, fresh = 1, waiting = {},
    flying = 0, paced = nil, done = 0, failed = 0, attempts = 0,
    by_code = {},
  }, Plan)
  for i = 1, self.total do
    self.calls[i] = { index = i, params = list[i], attempts = 0,
      state = {} }
  end
  for i = 1, self.total do self:encode(self.calls[i]) end
  return self
end


--- Encodes a call's params; a bad one finishes the call with its error.
-- @tab call the plan's record of one call
function Plan:encode(call)
  local params = call.params
  if type(params) ~= "table" then
    return self:finish(call, nil, errors.new { code = "InvalidParameter",
      action = self.action, message = "element " .. call.index
        .. " of the list must be a table of params, got " .. type(params) })
  end
  local body, err = self.client:encode(self.action, params)
  if not body then return self:finish(call, nil, err) end
  call.body = body
end


local function callback_error(self, call, name, message)
  local result = call.result
  local request_id = result.ok and result.value.RequestId
    or (not result.ok and result.err.request_id) or nil
  return { ok = false, err = errors.new { code = "CallbackError",
    action = self.action, request_id = request_id,
    attempts = call.attempts,
    message = name .. " raised: " .. tostring(message) },
    attempts = call.attempts }
end


--- Records a call's outcome, then tells the user's callbacks.
-- @tab call the plan's record of one call
-- @tparam[opt] table value the Response, on success
-- @tparam[opt] cfs.errors err the error, on failure
function Plan:finish(call, value, err)
  call.done = true
  call.result = value and { ok = true, value = value }
    or { ok = false, err = err }
  call.result.attempts = call.attempts
  self.done = self.done + 1
  if self.on_result then
    local ok, message = pcall(self.on_result, call.index, call.result)
    if not ok then
      call.result = callback_error(self, call, "on_result", message)
    end
  end
  if not call.result.ok then self.failed = self.failed + 1 end
  if self.progress then
    local ok, message = pcall(self.progress, self.done, self.failed,
      self.total)
    if not ok and call.result.ok then
      call.result = callback_error(self, call, "progress", message)
      self.failed = self.failed + 1
    end
  end
  self.results[call.index] = call.result
end


--- Whether every call has its result.
function Plan:finished()
  return self.done >= self.total
end


--- Seconds left before the deadline (math.huge without one).
function Plan:time_left(now)
  return self.deadline - now
end


--- Whether the batch's deadline has passed.
-- @number now the plan's clock
-- @treturn bool
function Plan:deadline_passed(now)
  return now >= self.deadline
end


-- The retry that is due first (lowest index among equals), if any is due.
local function due_retry(self, now)
  local best, best_at
  for at, call in ipairs(self.waiting) do
    if call.due <= now and (not best or call.index < best.index) then
      best, best_at = call, at
    end
  end
  if best then remove(self.waiting, best_at) end
  return best
end


local function next_fresh(self)
  while self.fresh <= self.total do
    local call = self.calls[self.fresh]
    self.fresh = self.fresh + 1
    if not call.done then return call end
  end
end


-- Seconds until the earliest waiting retry is due (nil: none waits).
local function retry_wait(self, now)
  local soonest
  for _, call in ipairs(self.waiting) do
    if not soonest or call.due < soonest then soonest = call.due end
  end
  return soonest and max(0, soonest - now)
end


--- The next call to send now, or nil and the seconds until one may be
-- ready (nil seconds: only an answer can make one ready).
function Plan:next_start(now)
  local paced = self.paced
  if paced then
    if now < paced.due then return nil, paced.due - now end
    self.paced = nil
    return self:launch(paced)
  end
  if self.flying >= self.concurrency then return nil, nil end
  local call = due_retry(self, now) or next_fresh(self)
  if not call then return nil, retry_wait(self, now) end
  local client = self.client
  local wait = client.pacer:take(self.action, client:rate(self.action))
  if wait > 0 then
    -- The pacer reserved a slot for this call; it holds a place in
    -- flight so the reservation is never wasted.
    call.due, self.paced = now + wait, call
    self.flying = self.flying + 1
    return nil, wait
  end
  self.flying = self.flying + 1
  return self:launch(call)
end


--- Counts an attempt of a call that is about to be sent.
-- @tab call the plan's record of one call
-- @treturn table the call
function Plan:launch(call)
  call.attempts = call.attempts + 1
  self.attempts = self.attempts + 1
  return call
end


--- The signed request for a call's attempt: { url, headers, body,
-- idempotent }; nil when the call ended instead (no credentials).
function Plan:request(call)
  local request, err = self.client:build_request(self.action, call.body,
    self.mutates)
  if request then call.flying = true return request end
  self.flying = self.flying - 1
  self:finish(call, nil, self:settle(call, err))
end


--- A call's final error: its attempts, whether retryable.
-- @tab call the plan's record of one call
-- @tparam cfs.errors err the error
-- @treturn cfs.errors err
function Plan:settle(call, err)
  self.client.settle(err, call.attempts, self.mutates)
  return err
end


--- What the transport returned for a call: status, body, date or
-- nil, code, message, sent. Finishes the call or makes it wait for its
-- retry. A recovery runs here, synchronously, through the client.
function Plan:answered(call, status, body, date_or_message, sent)
  call.flying = false
  self.flying = self.flying - 1
  local client, action = self.client, self.action
  local response, err, date = client:read_answer(action, status, body,
    date_or_message, sent)
  if response then return self:finish(call, response) end
  call.last_error = err
  local step, delay = client:next_step(self.mutates, err, date,
    call.attempts, call.state)
  if step == "recover" then
    local found
    found, delay = client:recover(action, call.params, err, call.attempts)
    if found then return self:finish(call, found) end
    step = delay and "retry" or "fail"
  end
  if step == "fail" then
    return self:finish(call, nil, self:settle(call, err))
  end
  call.due = self.clock() + delay
  self.waiting[#self.waiting + 1] = call
end


--- After the deadline: every call without a result gets
-- DeadlineExceeded. `in_flight` lists the calls the engine aborted: a
-- call that changes state may have been carried out.
function Plan:cut(in_flight)
  for _, call in ipairs(in_flight or {}) do call.aborted = true end
  for i = 1, self.total do
    local call = self.calls[i]
    if not call.done then
      local last = call.last_error
      local message = "the batch's deadline passed before this call "
        .. "finished"
      if last then
        message = message .. format(" (last attempt: %s)", last.code)
      end
      local err = errors.new { code = "DeadlineExceeded", action =
        self.action, message = message, attempts = call.attempts,
        request_id = last and last.request_id }
      if call.aborted and self.mutates then
        err.outcome = "unknown"
        err.message = err.message .. "; the " .. self.action
          .. " may or may not have been carried out"
      end
      self:finish(call, nil, err)
    end
  end
  self.waiting, self.paced, self.flying = {}, nil, 0
end


--- The results in list order and the summary.
function Plan:outcome()
  local succeeded, by_code = 0, {}
  for i = 1, self.total do
    local result = self.results[i]
    if result.ok then
      succeeded = succeeded + 1
    else
      local code = tostring(result.err.code)
      by_code[code] = (by_code[code] or 0) + 1
    end
  end
  return self.results, { succeeded = succeeded,
    failed = self.total - succeeded, by_code = by_code,
    attempts = self.attempts, elapsed = self.clock() - self.started }
end


-- Engines --------------------------------------------------------------

local engines = {}
batch.engines = engines


-- Hands every finished transfer to the plan; returns how many there were.
local function collect(plan, multi, in_flight)
  local n = 0
  while true do
    local slot, status, body, date, sent = multi:next_done()
    if not slot then return n end
    local call = in_flight[slot]
    in_flight[slot] = nil
    n = n + 1
    plan:answered(call, status, body, date, sent)
  end
end


local function aborted(in_flight)
  local list = {}
  for _, call in pairs(in_flight) do list[#list + 1] = call end
  sort(list, function(a, b) return a.index < b.index end)
  return list
end


--- libcurl's multi handle: transfers move while the plan waits.
function engines.curl(plan)
  local client = plan.client
  local multi = client.transport:multi()
  local in_flight, flying = {}, 0
  while not plan:finished() do
    local now = plan.clock()
    if plan:deadline_passed(now) then
      multi:close()
      plan:cut(aborted(in_flight))
      break
    end
    local call, wait = plan:next_start(now)
    while call do
      local request = plan:request(call)
      if request then
        local slot = multi:add(request.url, request.headers, request.body,
          request.idempotent)
        in_flight[slot], flying = call, flying + 1
      end
      call, wait = plan:next_start(now)
    end
    wait = min(wait or MAX_WAIT, MAX_WAIT, max(0, plan:time_left(now)))
    if flying > 0 then
      -- First what has already finished, then wait for activity: a
      -- transfer done inside perform would otherwise wait out the poll.
      multi:perform(0)
      local n = collect(plan, multi, in_flight)
      if n == 0 then
        multi:perform(ceil(wait * 1000))
        n = collect(plan, multi, in_flight)
      end
      flying = flying - n
    elseif not plan:finished() and wait > 0 then
      client.sleep(wait)
    end
  end
  multi:close()
end


--- A transport without a multi handle: one call at a time, with the same
-- pacing, retries and deadline.
function engines.blocking(plan)
  local client = plan.client
  local transport = client.transport
  while not plan:finished() do
    local now = plan.clock()
    if plan:deadline_passed(now) then
      plan:cut()
      break
    end
    local call, wait = plan:next_start(now)
    if call then
      local request = plan:request(call)
      if request then plan:answered(call, transport:send(request)) end
    else
      wait = min(wait or MAX_WAIT, max(0, plan:time_left(now)))
      if wait > 0 then client.sleep(wait) end
    end
  end
end


--- A dry run: each call goes alone through client:send, which returns
-- the signed request it would have sent.
function engines.serial(plan)
  local client = plan.client
  for i = 1, plan.total do
    local call = plan.calls[i]
    if not call.done then
      call.attempts, plan.attempts = 1, plan.attempts + 1
      local value, err = client:send(plan.action, call.body, call.params)
      if value then
        plan:finish(call, value)
      else
        if err.attempts then
          plan.attempts = plan.attempts + err.attempts - 1
          call.attempts = err.attempts
        end
        plan:finish(call, nil, err)
      end
    end
  end
end


--- Runs the batch: results in list order, and the summary.
-- @tparam cfs.client client the client
-- @string action the API's name of the action
-- @tab list one table of parameters per call
-- @tab[opt] opts `concurrency`, `deadline`, `progress`, `on_result`
-- @treturn table results
-- @treturn table the summary
-- @usage
-- local batch = require "cfs.batch"
-- local client = require("cfs").new()
-- local results, summary = batch.run(client, "DescribeDataFlow",
--   { { Limit = 1 }, { Limit = 1000 } })
-- assert(results[1].ok and not results[2].ok)
-- assert(summary.by_code.InvalidParameterValue == 1)
function batch.run(client, action, list, opts)
  local plan = batch.plan(client, action, list, opts)
  local engine = engines.curl
  if client.dry_run then
    engine = engines.serial
  elseif client.transport.light_threads then
    engine = require "cfs.batch_resty"
  elseif not client.transport.multi then
    engine = engines.blocking
  end
  engine(plan)
  return plan:outcome()
end


return batch
