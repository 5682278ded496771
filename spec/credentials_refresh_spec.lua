-- Temporary keys over time: refreshed before they expire, by one caller
-- at a time; kept when a refresh fails; refreshed once after
-- AuthFailure.TokenFailure. Unit specs use a fake clock; end-to-end ones
-- move the emulator's clock (and the client's) instead of waiting.
local emulator = require("spec.helpers.emulator")
local metadata = require("spec.helpers.metadata")
local credentials = require("cfs.credentials")
local cfs = require("cfs")

local ROLE_ARN = "qcs::cam::uin/100000000001:roleName/cfs-emulator-role"

local pack = table.pack or function(...)
  return { n = select("#", ...), ... }
end
local unpack = table.unpack or unpack

-- Resumes every coroutine in turn until all are done; their results.
local function run_all(functions)
  local threads, results = {}, {}
  for i, fn in ipairs(functions) do threads[i] = coroutine.create(fn) end
  local running = #threads
  while running > 0 do
    running = 0
    for i, co in ipairs(threads) do
      if coroutine.status(co) == "suspended" then
        local packed = pack(coroutine.resume(co))
        assert(packed[1], packed[2])
        if coroutine.status(co) == "dead" then
          results[i] = pack(unpack(packed, 2, packed.n))
        else
          running = running + 1
        end
      end
    end
  end
  return results
end

local function assert_no_secret(texts, secrets)
  for _, text in ipairs(texts) do
    for _, secret in ipairs(secrets) do
      assert.is_nil(text:find(secret, 1, true),
        "a secret shows in: " .. text)
    end
  end
end

describe("credentials.refreshing", function()
  local now, fetched, lifetime, fail

  -- Keys numbered by fetch, valid `lifetime` seconds from the fake now.
  local function fetch()
    fetched = fetched + 1
    if fail then return nil, "refresh refused (" .. fetched .. ")" end
    return true, "AKIDk" .. fetched, "key-" .. fetched, "token-" .. fetched,
      now + lifetime
  end

  local function provider(opts)
    opts = opts or {}
    opts.clock = function() return now end
    return credentials.refreshing(function() return fetch() end, opts)
  end

  before_each(function()
    now, fetched, lifetime, fail = 1000000, 0, 3600, false
  end)

  it("keeps keys until `margin` seconds before they expire", function()
    local p = provider()
    assert.are.same({ true, "AKIDk1", "key-1", "token-1", 1003600 },
      { p:get() })
    now = 1003600 - 301
    assert.are.equal("AKIDk1", select(2, p:get()))
    now = 1003600 - 299
    assert.are.same({ true, "AKIDk2", "key-2", "token-2", 1003301 + 3600 },
      { p:get() })
    assert.are.equal(2, fetched)
  end)

  it("takes the margin as an option", function()
    local p = provider({ margin = 60 })
    p:get()
    now = 1003600 - 61
    assert.are.equal("AKIDk1", select(2, p:get()))
    now = 1003600 - 59
    assert.are.equal("AKIDk2", select(2, p:get()))
  end)

  it("keeps the old keys after a failed refresh until they expire",
    function()
      local p = provider({ retry_interval = 10 })
      p:get()
      fail = true
      now = 1003600 - 100
      assert.are.equal("AKIDk1", select(2, p:get()))
      assert.are.equal(2, fetched)
      now = now + 5
      assert.are.equal("AKIDk1", select(2, p:get()))
      assert.are.equal(2, fetched)
      now = now + 10
      assert.are.equal("AKIDk1", select(2, p:get()))
      assert.are.equal(3, fetched)
      now = 1003600
      local ok, err = p:get()
      assert.is_nil(ok)
      assert.are.equal("InvalidCredentials", err.code)
      assert.truthy(err.message:find("refresh refused (4)", 1, true))
    end)

  it("makes 50 callers past expiry wait for one refresh", function()
    local p = provider()
    p:get()
    now = 1003600 + 1
    local plain = fetch
    fetch = function()
      coroutine.yield()
      return plain()
    end
    local callers = {}
    for i = 1, 50 do callers[i] = function() return p:get() end end
    local results = run_all(callers)
    fetch = plain
    assert.are.equal(2, fetched)
    for i = 1, 50 do
      assert.are.same({ true, "AKIDk2", "key-2", "token-2", 1007201 },
        { results[i][1], results[i][2], results[i][3], results[i][4],
          results[i][5] })
    end
  end)

  it("lets others use valid keys while one refreshes in the margin",
    function()
      local p = provider()
      p:get()
      now = 1003600 - 10
      local plain = fetch
      fetch = function()
        coroutine.yield()
        return plain()
      end
      local callers = {}
      for i = 1, 50 do
        callers[i] = function() return select(2, p:get()) end
      end
      local results = run_all(callers)
      fetch = plain
      assert.are.equal(2, fetched)
      assert.are.equal("AKIDk2", results[1][1])
      for i = 2, 50 do assert.are.equal("AKIDk1", results[i][1]) end
    end)

  it("shares one forced refresh among callers that ask together",
    function()
      local p = provider()
      p:get()
      local plain = fetch
      fetch = function()
        coroutine.yield()
        return plain()
      end
      local callers = {}
      for i = 1, 10 do callers[i] = function() return p.refresh(p) end end
      local results = run_all(callers)
      fetch = plain
      assert.are.equal(2, fetched)
      for i = 1, 10 do assert.is_true(results[i][1]) end
      assert.are.equal("AKIDk2", select(2, p:get()))
    end)

  it("checks what the getter returns and never echoes a key", function()
    local lines = {}
    local p = credentials.refreshing(function()
      return "AKIDbad", "bad-shape-key", "bad-shape-token"
    end, { logger = function(_, message) lines[#lines + 1] = message end })
    local ok, err = p:get()
    assert.is_nil(ok)
    assert.are.equal("InvalidCredentials", err.code)
    assert.are.equal(1, #lines)
    assert_no_secret({ tostring(err), tostring(p), lines[1] },
      { "bad-shape-key", "bad-shape-token" })
  end)
end)

describe("refreshing keys against the emulator", function()
  local em, md, shift, lines

  local function clock() return os.time() + shift end

  -- Moves the emulator's clock, the metadata helper's and the client's.
  local function move_clocks(seconds)
    shift = shift + seconds
    em:settings({ clock_offset = shift })
    md:set({ clock_offset = shift })
  end

  local function logger(_, message) lines[#lines + 1] = message end

  local function client(p, opts)
    local o = { credentials = p, endpoint = em.endpoint,
      ca_file = em.ca_file, region = "ap-guangzhou", clock = clock,
      pacer = false, logger = logger }
    for k, v in pairs(opts or {}) do o[k] = v end
    return cfs.new(o)
  end

  local function log_of(action)
    local out = {}
    for _, r in ipairs(em:requests()) do
      if not action or r.action == action then
        out[#out + 1] = r.action .. " " .. r.code
      end
    end
    return out
  end

  setup(function()
    em = emulator.start({ workers = 1 })
    md = metadata.start({ role = "cfs-test-role", duration = 3600,
      sts = { endpoint = em.http_endpoint, secret_id = em.secret_id,
              secret_key = em.secret_key, role_arn = ROLE_ARN } })
  end)
  teardown(function()
    md:stop()
    em:stop()
  end)
  before_each(function()
    shift, lines = 0, {}
    em:reset()
    em:settings({ clock_offset = 0, rate_limit = 0, sts_duration = 0 })
    md:set({ clock_offset = 0, duration = 3600, fail = 0 })
  end)

  it("keeps a client on a CVM working across its role keys' expiry",
    function()
      local p = credentials.cvm_role({ metadata_url = md.url, clock = clock,
        logger = logger })
      local c = client(p)
      local before = md:counts().keys
      assert(c:describe_data_flow({}))
      local _, old_id, old_key, old_token = p:get()
      move_clocks(3600)
      assert(c:describe_data_flow({}))
      local _, new_id, new_key, new_token = p:get()
      assert.are_not.equal(old_id, new_id)
      assert.are.equal(2, md:counts().keys - before)
      local calls = {}
      for _, r in ipairs(em:requests()) do
        if r.action == "DescribeDataFlow" then
          calls[#calls + 1] = { r.secret_id, r.code }
        end
      end
      assert.are.same({ { old_id, "Success" }, { new_id, "Success" } },
        calls)
      -- The old keys are refused now, as expired temporary keys.
      local answer = em:call("DescribeDataFlow", {}, { secret_id = old_id,
        secret_key = old_key, token = old_token, timestamp = clock() })
      assert.are.equal("AuthFailure.TokenFailure", emulator.code(answer))
      assert_no_secret(lines, { old_key, old_token, new_key, new_token,
        em.secret_key })
    end)

  it("makes 50 concurrent calls at expiry share one refresh", function()
    local http = require("cfs.credentials.http").default()
    local p = credentials.cvm_role({ metadata_url = md.url, clock = clock,
      http = function(...)
        -- The metadata answer takes a while: let the others run.
        if coroutine.isyieldable() then coroutine.yield() end
        return http(...)
      end })
    local c = client(p)
    assert(c:describe_data_flow({}))
    local before = md:counts().keys
    move_clocks(3600)
    local calls = {}
    for i = 1, 50 do
      calls[i] = function() return c:describe_data_flow({}) end
    end
    local results = run_all(calls)
    assert.are.equal(1, md:counts().keys - before)
    for i = 1, 50 do
      assert.are.equal(0, results[i][1] and results[i][1].TotalCount)
    end
    assert.are.equal(51, #log_of("DescribeDataFlow"))
  end)

  it("makes a batch of 50 at expiry use one refresh", function()
    local p = credentials.cvm_role({ metadata_url = md.url, clock = clock })
    local c = client(p)
    assert(c:describe_data_flow({}))
    local before = md:counts().keys
    move_clocks(3600)
    local list = {}
    for i = 1, 50 do list[i] = {} end
    local results, summary = c:batch("DescribeDataFlow", list,
      { concurrency = 16 })
    assert.are.equal(50, summary.succeeded)
    assert.is_true(results[50].ok)
    assert.are.equal(1, md:counts().keys - before)
  end)

  it("refreshes an assumed role once after TokenFailure and succeeds",
    function()
      em:settings({ sts_duration = 60 })
      local p = credentials.assume_role({ role_arn = ROLE_ARN,
        credentials = credentials.static(em.secret_id, em.secret_key),
        endpoint = em.http_endpoint, margin = 10, logger = logger })
      local c = client(p, { clock = os.time })
      assert(c:describe_data_flow({}))
      local _, _, old_key, old_token = p:get()
      -- The service's clock runs 120 s ahead: for it the keys expired,
      -- for the provider they have 60 s left.
      em:settings({ clock_offset = 120 })
      local res, err = c:describe_data_flow({})
      assert.is_nil(err)
      assert.are.equal(0, res.TotalCount)
      local _, _, new_key, new_token = p:get()
      assert.are.same({ "AssumeRole Success", "DescribeDataFlow Success",
        "DescribeDataFlow AuthFailure.TokenFailure", "AssumeRole Success",
        "DescribeDataFlow Success" }, log_of())
      assert_no_secret(lines, { old_key, old_token, new_key, new_token,
        em.secret_key })
    end)

  it("refreshes once and retries once when TokenFailure persists",
    function()
      local fetched = 0
      local p = credentials.refreshing(function()
        fetched = fetched + 1
        return true, "AKIDcfsEmulatorExpiredKey00000000003",
          "cfsEmulatorExpiredSecretKey000003",
          "cfs-emulator-session-token-0003", os.time() + 3600
      end)
      local res, err = client(p, { clock = os.time }):describe_data_flow({})
      assert.is_nil(res)
      assert.are.equal("AuthFailure.TokenFailure", err.code)
      assert.are.equal(2, err.attempts)
      assert.are.equal(2, fetched)
      assert.are.same({ "DescribeDataFlow AuthFailure.TokenFailure",
        "DescribeDataFlow AuthFailure.TokenFailure" }, log_of())
      assert_no_secret({ tostring(err), tostring(p) },
        { "cfsEmulatorExpiredSecretKey000003",
          "cfs-emulator-session-token-0003" })
    end)

  it("keeps the role's keys when the metadata service fails a refresh",
    function()
      local p = credentials.cvm_role({ metadata_url = md.url, clock = clock,
        logger = logger })
      local c = client(p)
      assert(c:describe_data_flow({}))
      local _, id, _, _, expiry = p:get()
      -- Inside the margin, not yet expired: the old keys still serve.
      move_clocks(expiry - os.time() - 100)
      md:set({ fail = 1 })
      assert(c:describe_data_flow({}))
      assert.are.equal(id, select(2, p:get()))
      local warned = false
      for _, line in ipairs(lines) do
        warned = warned or line:find("refresh failed", 1, true) ~= nil
      end
      assert.is_true(warned)
    end)
end)
