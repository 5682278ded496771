-- Hostile answers from a raw server (spec/helpers/rawserver.lua): each
-- ends in a clean error within the client's timeout, the next call
-- succeeds, and no connection that carried a broken answer is used again.
local cfs = require "cfs"
local cjson = require "cjson"
local socket = require "socket"

local ROOT = require("spec.helpers.emulator").ROOT
local MB = 1024 * 1024

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

describe("hostile answers", function()
  local port, pid

  local function admin(command)
    local conn
    for _ = 1, 100 do
      conn = socket.connect("127.0.0.1", port)
      if conn then break end
      socket.sleep(0.05)
    end
    assert(conn, "raw server did not start")
    conn:settimeout(60)
    conn:send("ADMIN " .. command .. "\r\n")
    local line = conn:receive("*l")
    conn:close()
    return line
  end

  local function stats() return cjson.decode(admin "STATS") end
  local function mode(m) assert.are.equal("ok", admin("MODE " .. m)) end

  setup(function()
    port = free_port()
    -- Always Lua 5.4 with luasocket, whatever runs the specs.
    local pipe = io.popen("lua5.4 " .. ROOT .. "/spec/helpers/rawserver.lua "
      .. port .. " >/dev/null 2>&1 & echo $!")
    pid = tonumber(pipe:read("*l"))
    pipe:close()
    stats()
  end)

  teardown(function()
    pcall(admin, "QUIT")
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
  end)

  local function client(opts)
    local o = { secret_id = "AKIDrawServerKey", secret_key = "raw-secret",
      region = "ap-guangzhou", endpoint = "http://127.0.0.1:" .. port,
      retry = false, pacer = false, timeout = 2, connect_timeout = 2 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return cfs.new(o)
  end

  -- A normal call after the broken one: it succeeds, on a new connection.
  local function next_call_is_clean(c, broken)
    mode "ok"
    local before = stats()
    local res, err = c:describe_data_flow {}
    assert.is_nil(err)
    assert.are.equal(("raw-%d"):format(before.requests + 1), res.RequestId)
    local after = stats()
    assert.are.equal(before.connections + 1, after.connections)
    assert.is_true(after.last_conn > broken.last_conn)
  end

  -- One hostile answer to DescribeDataFlow: the error, and the stats.
  local function hostile(m, opts)
    local c = client(opts)
    mode "ok"
    assert(c:describe_data_flow {})   -- a connection to keep alive
    mode(m)
    local res, err = c:describe_data_flow {}
    local broken = stats()
    assert.is_nil(res)
    return c, err, broken
  end

  it("keeps a connection alive across good answers (the baseline)", function()
    local c = client()
    mode "ok"
    assert(c:describe_data_flow {})
    local first = stats()
    assert(c:describe_data_flow {})
    local second = stats()
    assert.are.equal(first.last_conn, second.last_conn)
    assert.are.equal(first.connections, second.connections)
  end)

  it("refuses JSON nested 100,000 deep", function()
    local c, err, broken = hostile "deep"
    assert.are.equal("InvalidResponse", err.code)
    assert.truthy(err.message:find("not JSON", 1, true), err.message)
    assert.are.equal(1, err.attempts)
    next_call_is_clean(c, broken)
  end)

  it("cuts a 300 MB answer announced by Content-Length", function()
    local c, err, broken = hostile "huge"
    assert.are.equal("ResponseTooLarge", err.code)
    -- The client hung up: the server could not write the 300 MB.
    assert.is_true(broken.sent < 300 * MB)
    next_call_is_clean(c, broken)
  end)

  it("cuts a chunked 300 MB answer at max_response (16 MiB)", function()
    local c, err, broken = hostile "huge_chunked"
    assert.are.equal("ResponseTooLarge", err.code)
    assert.is_true(broken.sent >= 16 * MB)
    assert.is_true(broken.sent < 64 * MB)
    next_call_is_clean(c, broken)
  end)

  it("ends a chunked answer that never ends with Timeout", function()
    local c, err, broken = hostile "endless"
    assert.are.equal("Timeout", err.code)
    assert.is_true(err.retryable)
    next_call_is_clean(c, broken)
  end)

  it("refuses an answer that is not valid UTF-8", function()
    local c, err, broken = hostile "invalid_utf8"
    assert.are.equal("InvalidResponse", err.code)
    assert.truthy(err.message:find("UTF-8", 1, true), err.message)
    next_call_is_clean(c, broken)
  end)

  it("refuses an answer that starts with a UTF-8 byte order mark", function()
    local c, err, broken = hostile "bom"
    assert.are.equal("InvalidResponse", err.code)
    assert.truthy(err.message:find("not JSON", 1, true), err.message)
    next_call_is_clean(c, broken)
  end)

  it("refuses null where the Response object belongs", function()
    local c, err, broken = hostile "null_response"
    assert.are.equal("InvalidResponse", err.code)
    assert.are.equal("answer has no Response object", err.message)
    next_call_is_clean(c, broken)
  end)

  it("returns InvalidResponse from data_flows for a null list", function()
    local c = client()
    mode "null_list"
    local flow, err = c:data_flows()()
    assert.is_falsy(flow)
    assert.are.equal("InvalidResponse", err.code)
    mode "ok"
    assert(c:describe_data_flow {})
  end)

  it("returns InvalidResponse from data_flows for null list items", function()
    local c = client()
    mode "null_item"
    local flow, err = c:data_flows()()
    assert.is_falsy(flow)
    assert.are.equal("InvalidResponse", err.code)
    mode "ok"
    assert(c:describe_data_flow {})
  end)

  it("gives an unknown outcome when a create's recovery reads nulls", function()
    local c = client { retry = { base_delay = 0 } }
    local before = stats().requests
    mode "deep,null_item"
    local res, err = c:create_data_flow {
      FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
      SourceStorageAddress = "https://example-1250000000.cos.ap-guangzhou"
        .. ".myqcloud.com",
      SourcePath = "a", TargetPath = "/cfs/a", DataFlowName = "raw",
      SecretId = "AKIDcosKey", SecretKey = "cos-secret",
    }
    assert.is_nil(res)
    assert.are.equal("InvalidResponse", err.code)
    assert.are.equal("unknown", err.outcome)
    assert.are.equal(1, err.attempts)
    -- The create, then the recovery's one DescribeDataFlow: no resend.
    assert.are.equal(2, stats().requests - before)
  end)

  it("refuses a body cut short by a short Content-Length", function()
    local c, err, broken = hostile "short_length"
    assert.are.equal("InvalidResponse", err.code)
    next_call_is_clean(c, broken)
  end)

  it("never reads the next answer from bytes past Content-Length", function()
    local c = client()
    mode "ok"
    assert(c:describe_data_flow {})
    mode "excess"
    local res = assert(c:describe_data_flow {})
    local excess = stats()
    assert.are.equal(("raw-%d"):format(excess.requests), res.RequestId)
    next_call_is_clean(c, excess)
  end)

  it("fails with NetworkError when the body is cut short", function()
    local c, err, broken = hostile "long_length"
    assert.are.equal("NetworkError", err.code)
    next_call_is_clean(c, broken)
  end)

  it("times out when the promised rest of the body never comes", function()
    local c, err, broken = hostile "long_length_hold"
    assert.are.equal("Timeout", err.code)
    next_call_is_clean(c, broken)
  end)

  it("retries a read after timeouts, each on a new connection", function()
    local c = client { retry = { base_delay = 0 } }
    mode "ok"
    assert(c:describe_data_flow {})
    local before = stats()
    mode "endless,endless"
    local res, err = c:describe_data_flow {}
    assert.is_nil(err)
    local after = stats()
    assert.are.equal(("raw-%d"):format(after.requests), res.RequestId)
    assert.are.equal(before.requests + 3, after.requests)
    -- The first attempt rides the kept-alive connection; the two after
    -- a timeout each open their own.
    assert.are.equal(before.connections + 2, after.connections)
  end)
end)
