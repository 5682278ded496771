-- Canary: distinctive secrets (the API secret key, the session token, the
-- body's SecretKey and Password) go through a representative set of
-- operations, and no output of any of them holds one: results, errors,
-- logger lines, dry-run prints, the emulator's request log and every file
-- under its dir, and the stdout and stderr of subprocesses (the example,
-- bench/request_build.lua).
local cfs = require "cfs"
local cjson = require "cjson"
local emulator = require "spec.helpers.emulator"
local socket = require "socket"

local ROOT = emulator.ROOT

local SECRET_ID = "AKIDcanaryKey00000000000000000000004"
local SECRETS = {
  secret_key = "CANARY-api-secret-0d9f1b7e",
  token = "CANARY-session-token-5c2a8e41",
  SecretKey = "CANARY-cos-secret-7b3e9d20",
  Password = "CANARY-kafka-password-e4f61a",
}

local CREATE = {
  FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
  SourceStorageAddress =
    "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
  SourcePath = "test3", TargetPath = "/cfs/canary",
  SecretId = "AKIDEXAMPLEEXAMPLE", SecretKey = SECRETS.SecretKey,
  DataFlowName = "canary", AutoRefresh = 1,
  UserKafkaTopic = "cfs-dataflow-topic-1",
  ServerAddr = "kafkaconsumer-ap-guangzhou.cls.tencentyun.com:9095",
  UserName = "name", Password = SECRETS.Password,
}

local function with(extra)
  local copy = {}
  for k, v in pairs(CREATE) do copy[k] = v end
  for k, v in pairs(extra) do copy[k] = v end
  return copy
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local data = f:read("a")
  f:close()
  return data
end

-- Every string reachable from a value, joined: for errors and results.
local function strings_of(value, seen, out)
  seen, out = seen or {}, out or {}
  if type(value) == "table" and not seen[value] then
    seen[value] = true
    for k, v in pairs(value) do
      strings_of(k, seen, out)
      strings_of(v, seen, out)
    end
  elseif type(value) == "string" or type(value) == "number" then
    out[#out + 1] = tostring(value)
  end
  return table.concat(out, "\n")
end

local function closed_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

describe("canary: no secret in any output", function()
  local em, work, config_path
  local outputs = {}

  local function keep(where, text)
    outputs[#outputs + 1] = { where = where, text = tostring(text) }
  end

  local function keep_result(where, res, err)
    keep(where .. " result", strings_of(res))
    keep(where .. " error fields", strings_of(err))
    if err then keep(where .. " tostring(err)", tostring(err)) end
    if err then keep(where .. " concat", "failed: " .. err) end
  end

  setup(function()
    work = os.tmpname()
    os.remove(work)
    assert(os.execute("mkdir -p " .. shell_quote(work .. "/em")))
    local config = emulator.default_config()
    config.keys[#config.keys + 1] = { secret_id = SECRET_ID,
      secret_key = SECRETS.secret_key, token = SECRETS.token }
    config_path = work .. "/config.json"
    local f = assert(io.open(config_path, "wb"))
    f:write(cjson.encode(config))
    f:close()
    em = emulator.start { workers = 1, config = config_path,
      dir = work .. "/em" }
    em:settings { rate_limit = 0 }
  end)

  teardown(function()
    if em then em:stop() end
    os.execute("rm -rf " .. shell_quote(work))
  end)

  local function client(opts)
    local o = { secret_id = SECRET_ID, secret_key = SECRETS.secret_key,
      token = SECRETS.token, region = "ap-guangzhou",
      endpoint = em.endpoint, ca_file = em.ca_file, pacer = false,
      retry = { base_delay = 0.01 }, timeout = 1,
      logger = function(level, message)
        keep("logger " .. tostring(level), message)
      end }
    for k, v in pairs(opts or {}) do o[k] = v end
    return cfs.new(o)
  end

  it("runs creates, reads and dry runs", function()
    local c = client()
    keep("tostring(client)", tostring(c))
    local res, err = c:create_data_flow(CREATE)
    assert.is_nil(err)
    keep_result("create", res, err)
    keep_result("describe", c:describe_data_flow {
      DataFlowId = res.DataFlowId })
    keep_result("data_flows", c:data_flows()())

    local dry = client { dry_run = true }
    local request = assert(dry:create_data_flow(CREATE))
    keep("dry run print", tostring(request))
    assert.truthy(tostring(request):find("X-TC-Token: ***", 1, true))
  end)

  it("returns errors of every kind", function()
    local c = client()
    keep_result("service error", c:create_data_flow(with {
      FileSystemId = "cfs-00000000" }))
    keep_result("validation error", c:create_data_flow(with {
      DataFlowName = "no spaces allowed" }))
    keep_result("invalid UTF-8 in Password", c:create_data_flow(with {
      Password = SECRETS.Password .. "\255" }))
    keep_result("invalid UTF-8 in SecretKey", c:create_data_flow(with {
      SecretKey = "\255" .. SECRETS.SecretKey }))
    keep_result("wrong type", c:create_data_flow(with {
      Password = { SECRETS.Password } }))
    keep_result("misspelt field", c:create_data_flow(with {
      Passwrd = SECRETS.Password }))
    keep_result("wrong key", client {
      secret_key = SECRETS.secret_key .. "-wrong" }:create_data_flow(CREATE))
    keep_result("wrong token", client {
      token = SECRETS.token .. "-wrong" }:create_data_flow(CREATE))
    keep_result("connect error", client {
      endpoint = "http://127.0.0.1:" .. closed_port(),
    }:create_data_flow(CREATE))
    for _, fault in ipairs {
      { kind = "close_before" }, { kind = "close_after" },
      { kind = "http_502" }, { kind = "truncated" }, { kind = "not_json" },
      { kind = "error", code = "InternalError" },
      { kind = "error", code = "RequestLimitExceeded" },
      { kind = "delay", delay = 2 }, { kind = "clock_offset", offset = 900 },
    } do
      em:clear_faults()
      em:fault(fault)
      keep_result("fault " .. fault.kind, client():create_data_flow(CREATE))
    end
    em:clear_faults()

    local ok, raised = pcall(cfs.new, { secret_key = SECRETS.secret_key })
    assert.is_false(ok)
    keep("raised by cfs.new", raised)
    ok, raised = pcall(client().create_data_flow, client(), SECRETS.Password)
    assert.is_false(ok)
    keep("raised by a call", raised)
  end)

  it("runs the example and the bench as subprocesses", function()
    local env = table.concat({
      "LUA_PATH=" .. shell_quote(ROOT .. "/lua/?.lua;" .. ROOT
        .. "/lua/?/init.lua;;"),
      "LUA_CPATH=" .. shell_quote(ROOT .. "/build/5.4/?.so;;"),
      "TENCENTCLOUD_SECRET_ID=" .. SECRET_ID,
      "TENCENTCLOUD_SECRET_KEY=" .. SECRETS.secret_key,
      "TENCENTCLOUD_SESSION_TOKEN=" .. SECRETS.token,
      "TENCENTCLOUD_REGION=ap-guangzhou",
      "COS_SECRET_KEY=" .. SECRETS.SecretKey,
      "CFS_CA_FILE=" .. shell_quote(em.ca_file),
    }, " ")
    local function run(where, endpoint, script)
      local pipe = assert(io.popen("cd " .. shell_quote(ROOT) .. " && env "
        .. env .. " CFS_ENDPOINT=" .. shell_quote(endpoint)
        .. " lua5.4 " .. script .. " 2>&1"))
      local out = pipe:read("a")
      pipe:close()
      keep(where, out)
      return out
    end
    local ok_out = run("example", em.endpoint, "examples/create_data_flow.lua")
    assert.truthy(ok_out:find("DataFlowId: cfs-dataflow-", 1, true), ok_out)
    local bad_out = run("failing example", "http://127.0.0.1:"
      .. closed_port(), "examples/create_data_flow.lua")
    assert.truthy(bad_out:find("ConnectError", 1, true), bad_out)

    local bench = run("bench", em.endpoint, "bench/request_build.lua 2000")
    assert.truthy(bench:find("request_build:", 1, true), bench)
    -- The bench's own secrets must not show either.
    assert.falsy(bench:find("bench-api-secret", 1, true), bench)
    assert.falsy(bench:find("bench-cos-secret", 1, true), bench)
  end)

  it("finds no secret in any output, log or file", function()
    keep("emulator request log", cjson.encode(em:requests()))
    em:stop()
    em = nil
    local pipe = assert(io.popen("find " .. shell_quote(work .. "/em")
      .. " -type f"))
    local files = 0
    for path in pipe:lines() do
      keep("file " .. path:sub(#work + 2), read_all(path))
      files = files + 1
    end
    pipe:close()
    assert.is_true(files >= 4)
    assert.is_true(#outputs > 40)

    for _, out in ipairs(outputs) do
      for name, secret in pairs(SECRETS) do
        -- The last 8 characters too: a cut secret is still a leak.
        for _, needle in ipairs { secret, secret:sub(-8) } do
          if out.text:find(needle, 1, true) then
            error(("%s holds the %s"):format(out.where, name))
          end
        end
      end
    end
  end)
end)
