-- The fault matrix: every fault the emulator injects, against an action
-- that changes state (CreateDataFlow) and one that does not
-- (DescribeDataFlow), once (count 1) and until cleared. Each cell pins
-- what the caller gets (the result or the code, attempts, outcome), how
-- many requests of the action the service saw, and how many flows exist
-- afterwards. docs/hardening.md shows the same table.
local cfs = require "cfs"
local emulator = require "spec.helpers.emulator"
local socket = require "socket"

local CREATE = {
  FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
  SourceStorageAddress =
    "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
  SourcePath = "test3", TargetPath = "/cfs/test11",
  SecretId = "AKIDEXAMPLEEXAMPLE", SecretKey = "exampleSecretKeyValue",
  DataFlowName = "matrix",
}

local TIMEOUT, DELAY = 1, 2

-- Each fault as the admin endpoint takes it (count and action added).
local FAULTS = {
  { name = "delay", kind = "delay", delay = DELAY },
  { name = "close_before", kind = "close_before" },
  { name = "close_after", kind = "close_after" },
  { name = "http_502", kind = "http_502" },
  { name = "truncated", kind = "truncated" },
  { name = "not_json", kind = "not_json" },
  { name = "RequestLimitExceeded", kind = "error",
    code = "RequestLimitExceeded" },
  { name = "InternalError", kind = "error", code = "InternalError" },
  { name = "clock_offset", kind = "clock_offset", offset = 900 },
}

-- What each cell gives today: ok (and whether recovered) or code,
-- attempts (the service's count of the action's requests), outcome and
-- flows afterwards. Keyed by fault, then action, then duration.
local EXPECTED = {
  delay = {
    CreateDataFlow = {
      once = { result = "error", code = "Timeout", client_attempts = 1,
        outcome = "unknown", requests = 1, reads = 1, flows = 1,
        why = "a create that timed out may still run: unknown, not resent" },
      always = { result = "error", code = "Timeout", client_attempts = 1,
        outcome = "unknown", requests = 1, reads = 1, flows = 1,
        why = "a create that timed out may still run: unknown, not resent" },
    },
    DescribeDataFlow = {
      once = { result = "ok", requests = 2, flows = 0,
        why = "a read is resent after a Timeout" },
      always = { result = "error", code = "Timeout", client_attempts = 4,
        requests = 4, flows = 0,
        why = "every attempt times out" },
    },
  },
  close_before = {
    CreateDataFlow = {
      once = { result = "ok", requests = 2, reads = 1, flows = 1,
        why = "no flow listed, so the create is sent again" },
      always = { result = "error", code = "NetworkError", client_attempts = 4,
        outcome = "unknown", requests = 4, reads = 4, flows = 0,
        why = "no flow after each attempt; the last one says unknown" },
    },
    DescribeDataFlow = {
      once = { result = "ok", requests = 2, flows = 0,
        why = "a read is resent" },
      always = { result = "error", code = "NetworkError", client_attempts = 4,
        requests = 4, flows = 0,
        why = "retries run out" },
    },
  },
  close_after = {
    CreateDataFlow = {
      once = { result = "recovered", requests = 1, reads = 1, flows = 1,
        why = "the service acted; the listing finds the flow" },
      always = { result = "recovered", requests = 1, reads = 1, flows = 1,
        why = "the service acted; the listing finds the flow" },
    },
    DescribeDataFlow = {
      once = { result = "ok", requests = 2, flows = 0,
        why = "a read is resent" },
      always = { result = "error", code = "NetworkError", client_attempts = 4,
        requests = 4, flows = 0,
        why = "retries run out" },
    },
  },
  http_502 = {
    CreateDataFlow = {
      once = { result = "ok", requests = 2, reads = 1, flows = 1,
        why = "no flow listed, so the create is sent again" },
      always = { result = "error", code = "InvalidResponse",
        client_attempts = 4, outcome = "unknown", requests = 4, reads = 4,
        flows = 0,
        why = "no flow after each attempt; the last one says unknown" },
    },
    DescribeDataFlow = {
      once = { result = "ok", requests = 2, flows = 0,
        why = "a read is resent" },
      always = { result = "error", code = "InvalidResponse",
        client_attempts = 4, requests = 4, flows = 0,
        why = "retries run out" },
    },
  },
  truncated = {
    CreateDataFlow = {
      once = { result = "recovered", requests = 1, reads = 1, flows = 1,
        why = "the service acted; the listing finds the flow" },
      always = { result = "recovered", requests = 1, reads = 1, flows = 1,
        why = "the service acted; the listing finds the flow" },
    },
    DescribeDataFlow = {
      once = { result = "ok", requests = 2, flows = 0,
        why = "a read is resent" },
      always = { result = "error", code = "InvalidResponse",
        client_attempts = 4, requests = 4, flows = 0,
        why = "retries run out" },
    },
  },
  not_json = {
    CreateDataFlow = {
      once = { result = "ok", requests = 2, reads = 1, flows = 1,
        why = "no flow listed, so the create is sent again" },
      always = { result = "error", code = "InvalidResponse",
        client_attempts = 4, outcome = "unknown", requests = 4, reads = 4,
        flows = 0,
        why = "no flow after each attempt; the last one says unknown" },
    },
    DescribeDataFlow = {
      once = { result = "ok", requests = 2, flows = 0,
        why = "a read is resent" },
      always = { result = "error", code = "InvalidResponse",
        client_attempts = 4, requests = 4, flows = 0,
        why = "retries run out" },
    },
  },
  RequestLimitExceeded = {
    CreateDataFlow = {
      once = { result = "ok", requests = 2, reads = 0, flows = 1,
        why = "nothing was done: resent without a listing" },
      always = { result = "error", code = "RequestLimitExceeded",
        client_attempts = 4, requests = 4, reads = 0, flows = 0,
        why = "retries run out" },
    },
    DescribeDataFlow = {
      once = { result = "ok", requests = 2, flows = 0,
        why = "a read is resent" },
      always = { result = "error", code = "RequestLimitExceeded",
        client_attempts = 4, requests = 4, flows = 0,
        why = "retries run out" },
    },
  },
  InternalError = {
    CreateDataFlow = {
      once = { result = "ok", requests = 2, reads = 1, flows = 1,
        why = "no flow listed, so the create is sent again" },
      always = { result = "error", code = "InternalError",
        client_attempts = 4, outcome = "unknown", requests = 4, reads = 4,
        flows = 0,
        why = "no flow after each attempt; the last one says unknown" },
    },
    DescribeDataFlow = {
      once = { result = "ok", requests = 2, flows = 0,
        why = "a read is resent" },
      always = { result = "error", code = "InternalError",
        client_attempts = 4, requests = 4, flows = 0,
        why = "retries run out" },
    },
  },
  clock_offset = {
    CreateDataFlow = {
      once = { result = "error", code = "AuthFailure.SignatureExpire",
        client_attempts = 2, requests = 2, reads = 0, flows = 0,
        why = "one clock correction per call; the service's clock went back" },
      always = { result = "ok", requests = 2, reads = 0, flows = 1,
        why = "the client takes the service's clock from Date, resends" },
    },
    DescribeDataFlow = {
      once = { result = "error", code = "AuthFailure.SignatureExpire",
        client_attempts = 2, requests = 2, flows = 0,
        why = "one clock correction per call; the service's clock went back" },
      always = { result = "ok", requests = 2, flows = 0,
        why = "the client takes the service's clock from Date, resends" },
    },
  },
}

describe("fault matrix", function()
  local em

  setup(function()
    em = emulator.start { workers = 1 }
  end)
  teardown(function() em:stop() end)

  local function client()
    return cfs.new { secret_id = em.secret_id, secret_key = em.secret_key,
      region = "ap-guangzhou", endpoint = em.endpoint, ca_file = em.ca_file,
      retry = { base_delay = 0.01 }, pacer = false, timeout = TIMEOUT,
      connect_timeout = TIMEOUT }
  end

  local function count(action)
    local n = 0
    for _, r in ipairs(em:requests()) do
      if r.action == action then n = n + 1 end
    end
    return n
  end

  -- A delayed request ends after the client gave up: give the last one
  -- time to finish before counting what the service did.
  local function settle_delayed()
    socket.sleep(DELAY + 0.5)
  end

  local function run(fault, action, duration)
    em:reset()
    em:settings { rate_limit = 0, data_flow_limit = 10 }
    local t = {}
    for k, v in pairs(fault) do if k ~= "name" then t[k] = v end end
    t.action = action
    if duration == "once" then t.count = 1 end
    local _, status = em:fault(t)
    assert.are.equal(200, status)

    local c = client()
    local res, err
    if action == "CreateDataFlow" then
      res, err = c:create_data_flow(CREATE)
    else
      res, err = c:describe_data_flow { FileSystemId = "cfs-44d53b63e" }
    end
    em:clear_faults()
    local cell = {}
    if res then
      cell.result = res.Recovered and "recovered" or "ok"
    else
      cell.result, cell.code, cell.outcome = "error", err.code, err.outcome
      cell.client_attempts = err.attempts
    end
    if fault.kind == "delay" then settle_delayed() end
    cell.requests = count(action)
    if action == "CreateDataFlow" then
      cell.reads = count("DescribeDataFlow")
    end
    cell.flows = #em:flows()
    c:close()
    return cell
  end

  for _, fault in ipairs(FAULTS) do
    for _, action in ipairs { "CreateDataFlow", "DescribeDataFlow" } do
      for _, duration in ipairs { "once", "always" } do
        local want = EXPECTED[fault.name][action][duration]
        it(("%s, %s, %s: %s"):format(fault.name, action, duration,
            want.why), function()
          local got = run(fault, action, duration)
          want = { result = want.result, code = want.code,
            outcome = want.outcome, client_attempts = want.client_attempts,
            requests = want.requests, reads = want.reads,
            flows = want.flows }
          assert.are.same(want, got)
        end)
      end
    end
  end
end)
