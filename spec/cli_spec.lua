-- bin/cfs as a user runs it: a subprocess against the emulator, checked
-- by its standard output, standard error, exit status and what the
-- emulator received.
local cjson = require "cjson"
local socket = require "socket"
local emulator = require "spec.helpers.emulator"

local CFS = emulator.ROOT .. "/bin/cfs"
local COS_SECRET = "cosSecretNeverShown42"
local API_TOKEN = "apiTokenNeverShown42"

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read "a"
  f:close()
  return text
end

local function write_temp(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- A port on loopback that nothing listens on.
local function closed_port()
  local server = assert(socket.bind("127.0.0.1", 0))
  local _, port = server:getsockname()
  server:close()
  return port
end

-- The flags of a CreateDataFlow that the emulator accepts, but the
-- target path, as a list of words.
local function seed_flags(target)
  return {
    "--FileSystemId", "cfs-44d53b63e", "--SourceStorageType", "S3_COS",
    "--SourceStorageAddress",
    "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
    "--SourcePath", "test3", "--SecretId", "AKIDEXAMPLEEXAMPLE",
    "--SecretKey", COS_SECRET, target and "--TargetPath" or nil, target,
  }
end

local function join(...)
  local out = {}
  for _, list in ipairs { ... } do
    for _, word in ipairs(list) do out[#out + 1] = word end
  end
  return out
end

describe("bin/cfs", function()
  local em

  setup(function() em = emulator.start { workers = 1 } end)
  teardown(function() em:stop() end)
  before_each(function()
    em:reset()
    em:settings { rate_limit = 0, data_flow_limit = 100 }
  end)

  -- Runs bin/cfs with `args`; o.stdin (text), o.env (extra variables),
  -- o.endpoint. Returns stdout, stderr, exit status.
  local function cfs(args, o)
    o = o or {}
    local out, err = os.tmpname(), os.tmpname()
    local env = {
      TENCENTCLOUD_SECRET_ID = em.secret_id,
      TENCENTCLOUD_SECRET_KEY = em.secret_key,
      TENCENTCLOUD_REGION = "ap-guangzhou",
      TENCENTCLOUD_CREDENTIALS_FILE = "/nonexistent",
      -- Never the real metadata service, whatever the keys.
      CFS_METADATA_URL = "off",
      CFS_ENDPOINT = o.endpoint or em.endpoint,
      CFS_CA_FILE = em.ca_file,
    }
    for k, v in pairs(o.env or {}) do env[k] = v end
    local words = { "env", "-u", "TENCENTCLOUD_SESSION_TOKEN" }
    for k, v in pairs(env) do words[#words + 1] = k .. "=" .. quote(v) end
    words[#words + 1] = quote(CFS)
    for _, a in ipairs(args) do words[#words + 1] = quote(a) end
    local input = o.stdin and write_temp(o.stdin) or "/dev/null"
    local command = table.concat(words, " ") .. " <" .. quote(input)
      .. " >" .. quote(out) .. " 2>" .. quote(err) .. "; echo $?"
    local pipe = assert(io.popen(command))
    local status = tonumber(pipe:read "a")
    pipe:close()
    local stdout, stderr = read(out), read(err)
    os.remove(out)
    os.remove(err)
    if o.stdin then os.remove(input) end
    return stdout, stderr, status
  end

  describe("one call", function()
    it("creates a data flow from flags and prints the answer as JSON",
      function()
        local out, err, status = cfs(join({ "create-data-flow" },
          seed_flags("/cfs/cli1"), { "--AutoRefresh", "1" }))
        assert.equal(0, status, err)
        assert.equal("", err)
        local answer = cjson.decode(out)
        assert.matches("^cfs%-dataflow%-%x+$", answer.DataFlowId)
        assert.matches("^%x+%-", answer.RequestId)
        local flows = em:flows()
        assert.equal(1, #flows)
        assert.equal(answer.DataFlowId, flows[1].DataFlowId)
        assert.equal("/cfs/cli1/", flows[1].TargetPath)
        -- Typed from the description: a number on the wire, not "1".
        assert.equal(1, em:requests()[1].body.AutoRefresh)
      end)

    it("prints pretty JSON with sorted keys", function()
      cfs(join({ "create-data-flow" }, seed_flags("/cfs/cli2")))
      local out, err, status = cfs { "describe-data-flow", "--Limit", "10" }
      assert.equal(0, status, err)
      local keys = {}
      for key in out:gmatch '\n  "(%w+)":' do keys[#keys + 1] = key end
      assert.same({ "DataFlows", "RequestId", "TotalCount" }, keys)
      assert.equal(1, cjson.decode(out).TotalCount)
    end)

    it("takes parameters from --cli-input-json, flags over the file",
      function()
        local params = {
          FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
          SourceStorageAddress = "https://aileen-data-flow-1251000004"
            .. ".cos.ap-guangzhou.myqcloud.com",
          SourcePath = "fromfile", TargetPath = "/cfs/file",
          SecretId = "AKIDEXAMPLEEXAMPLE", SecretKey = COS_SECRET,
          DataFlowName = cjson.null,
        }
        local path = write_temp(cjson.encode(params))
        local out, err, status = cfs { "create-data-flow",
          "--cli-input-json", path, "--TargetPath", "/cfs/flag" }
        os.remove(path)
        assert.equal(0, status, err)
        local id = cjson.decode(out).DataFlowId
        local flow = em:flows()[1]
        assert.equal(id, flow.DataFlowId)
        assert.equal("fromfile", flow.SourcePath)
        assert.equal("/cfs/flag/", flow.TargetPath)
      end)

    it("reads --cli-input-json - from standard input", function()
      local out, err, status = cfs({ "describe-data-flow",
        "--cli-input-json", "-" }, { stdin = '{"Limit": 5, "Offset": 0}' })
      assert.equal(0, status, err)
      assert.equal(0, cjson.decode(out).TotalCount)
      assert.equal(5, em:requests()[1].body.Limit)
    end)

    it("sends nothing on --dry-run and masks every secret", function()
      local out, err, status = cfs(join({ "create-data-flow", "--dry-run" },
        seed_flags("/cfs/dry")), { env = {
          TENCENTCLOUD_SESSION_TOKEN = API_TOKEN } })
      assert.equal(0, status, err)
      assert.truthy(out:find("X-TC-Action: CreateDataFlow", 1, true), out)
      assert.truthy(out:find('"SecretKey":"***"', 1, true), out)
      assert.truthy(out:find("X-TC-Token: ***", 1, true), out)
      assert.matches("Signature=%x+", out)
      assert.falsy(out:find(COS_SECRET, 1, true))
      assert.falsy(out:find(API_TOKEN, 1, true))
      assert.falsy(out:find(em.secret_key, 1, true))
      assert.same({}, em:requests())
    end)
  end)

  describe("exit status", function()
    it("is 2 for a usage error, told on stderr, with nothing on stdout",
      function()
        for _, args in ipairs {
          { "create-data-flow", "--FileSystemID", "cfs-44d53b63e" },
          { "describe-data-flow", "--Limit", "ten" },
          { "describe-data-flow", "--Limit" },
          { "no-such-command" },
          { "describe-data-flow", "--cli-input-json", "/nonexistent.json" },
        } do
          local out, err, status = cfs(args)
          assert.equal(2, status, table.concat(args, " ") .. ": " .. err)
          assert.equal("", out)
          assert.matches("^cfs: ", err)
        end
        local _, err = cfs { "create-data-flow", "--FileSystemID", "x" }
        assert.truthy(err:find("did you mean FileSystemId", 1, true), err)
        assert.same({}, em:requests())
      end)

    it("names the right help and the flag for a refused http endpoint",
      function()
        local _, err, status = cfs { "describe-data-flow", "--endpoint",
          "http://cfs.example.invalid", "--dry-run" }
        assert.equal(2, status)
        assert.truthy(err:find("Try 'cfs --help'.", 1, true), err)
        assert.falsy(err:find("cfs 0", 1, true), err)
        local out, err2, status2 = cfs { "describe-data-flow", "--endpoint",
          "http://cfs.example.invalid", "--insecure-http", "--dry-run" }
        assert.equal(0, status2, err2)
        assert.truthy(out:find("http://cfs.example.invalid/", 1, true), out)
      end)

    it("is 3 when the service answers with an error, the code on stderr",
      function()
        local flags = seed_flags("/cfs/api")
        flags[2] = "cfs-00000000"
        local out, err, status = cfs(join({ "create-data-flow" }, flags))
        assert.equal(3, status, err)
        assert.equal("", out)
        assert.truthy(err:find("ResourceNotFound.FileSystemNotFound", 1,
          true), err)
        assert.equal("ResourceNotFound.FileSystemNotFound",
          em:requests()[1].code)
      end)

    it("is 4 when the endpoint cannot be reached", function()
      local out, err, status = cfs({ "describe-data-flow" }, {
        endpoint = "https://127.0.0.1:" .. closed_port() })
      assert.equal(4, status, err)
      assert.equal("", out)
      assert.truthy(err:find("ConnectError", 1, true), err)
    end)

    it("is 5 when a parameter is refused before anything is sent",
      function()
        local flags = seed_flags("/cfs/bad")
        flags[4] = "S3_XX"
        local out, err, status = cfs(join({ "create-data-flow" }, flags))
        assert.equal(5, status, err)
        assert.equal("", out)
        assert.truthy(err:find("SourceStorageType", 1, true), err)
        assert.same({}, em:requests())
      end)
  end)

  describe("--batch", function()
    local function lines_of(out)
      local list = {}
      for line in out:gmatch "[^\n]+" do list[#list + 1] = cjson.decode(line) end
      return list
    end

    it("runs JSON lines, one result line per input line, in order",
      function()
        local path = write_temp(table.concat({
          '{"TargetPath":"/cfs/j1","SourcePath":"a"}',
          '{"TargetPath":"/cfs/j2","SourcePath":"b",'
            .. '"FileSystemId":"cfs-00000000"}',
          "",
          '{"TargetPath":"/cfs/j3","SourcePath":"c"}',
        }, "\n") .. "\n")
        local out, err, status = cfs(join({ "create-data-flow", "--batch",
          path, "--concurrency", "3" }, seed_flags()))
        os.remove(path)
        assert.equal(3, status, err)
        assert.equal("", err)
        local results = lines_of(out)
        assert.equal(3, #results)
        for i, r in ipairs(results) do assert.equal(i, r.index) end
        assert.same({ 1, 2, 4 }, { results[1].line, results[2].line,
          results[3].line })
        assert.is_true(results[1].ok)
        assert.is_false(results[2].ok)
        assert.equal("ResourceNotFound.FileSystemNotFound", results[2].code)
        assert.matches("^%x+%-", results[2].request_id)
        assert.is_true(results[3].ok)
        local target = {}
        for _, flow in ipairs(em:flows()) do
          target[flow.DataFlowId] = flow.TargetPath
        end
        assert.equal("/cfs/j1/", target[results[1].DataFlowId])
        assert.equal("/cfs/j3/", target[results[3].DataFlowId])
      end)

    it("runs CSV with a header row, quoted fields and typed columns",
      function()
        local path = write_temp(table.concat({
          "TargetPath,SourcePath,DataFlowName,AutoRefresh",
          "/cfs/c1,plain,one,0",
          '"/cfs/c2","with,comma",two,',
          "/cfs/c3,third,,1",
        }, "\r\n"))
        local out, err, status = cfs(join({ "create-data-flow", "--batch",
          path }, seed_flags()))
        os.remove(path)
        assert.equal(0, status, err)
        assert.equal("", err)
        local results = lines_of(out)
        assert.equal(3, #results)
        local by_id = {}
        for _, flow in ipairs(em:flows()) do by_id[flow.DataFlowId] = flow end
        for i, expected in ipairs { "plain", "with,comma", "third" } do
          assert.equal(i, results[i].index)
          assert.equal(i + 1, results[i].line)
          assert.equal(expected, by_id[results[i].DataFlowId].SourcePath)
        end
        assert.equal(1, by_id[results[3].DataFlowId].AutoRefresh)
      end)

    it("refuses a malformed line before sending anything", function()
      local path = write_temp('{"TargetPath":"/cfs/x"}\n{not json\n')
      local out, err, status = cfs(join({ "create-data-flow", "--batch",
        path }, seed_flags()))
      os.remove(path)
      assert.equal(2, status)
      assert.equal("", out)
      assert.truthy(err:find("batch line 2", 1, true), err)
      assert.same({}, em:requests())
    end)

    it("prints no progress bar when stdout is not a terminal", function()
      local list = {}
      for i = 1, 5 do
        list[i] = '{"TargetPath":"/cfs/p' .. i .. '","SourcePath":"p"}'
      end
      local out, err, status = cfs(join({ "create-data-flow", "--batch",
        "-" }, seed_flags()), { stdin = table.concat(list, "\n") })
      assert.equal(0, status, err)
      assert.equal("", err)
      assert.equal(5, #lines_of(out))
    end)

    it("draws the progress bar on stderr when stdout is a terminal",
      function()
        local path = write_temp('{"TargetPath":"/cfs/t1","SourcePath":"t"}\n'
          .. '{"TargetPath":"/cfs/t2","SourcePath":"t"}\n')
        local done = os.tmpname()
        os.remove(done)
        local words = { "env", "TENCENTCLOUD_SECRET_ID=" .. em.secret_id,
          "TENCENTCLOUD_SECRET_KEY=" .. em.secret_key,
          "TENCENTCLOUD_REGION=ap-guangzhou", "CFS_METADATA_URL=off",
          "CFS_ENDPOINT=" .. em.endpoint,
          "CFS_CA_FILE=" .. em.ca_file, CFS, "create-data-flow", "--batch",
          path }
        for _, w in ipairs(seed_flags()) do words[#words + 1] = w end
        for i, w in ipairs(words) do words[i] = quote(w) end
        -- A private tmux server gives the command a real terminal; the
        -- pane shows what a user would see.
        local tmux_socket = os.tmpname()
        os.remove(tmux_socket)
        local tmux = "tmux -S " .. quote(tmux_socket)
        assert(os.execute(tmux .. " new-session -d -x 200 -y 40 "
          .. quote(table.concat(words, " ") .. "; echo $? > " .. quote(done)
            .. "; sleep 60")))
        local status
        for _ = 1, 200 do
          local f = io.open(done)
          if f then
            status = tonumber(f:read "a")
            f:close()
            break
          end
          socket.sleep(0.05)
        end
        local pipe = assert(io.popen(tmux .. " capture-pane -p"))
        local screen = pipe:read "a"
        pipe:close()
        os.execute(tmux .. " kill-server")
        os.remove(tmux_socket)
        os.remove(done)
        os.remove(path)
        assert.equal(0, status, screen)
        assert.truthy(screen:find("[" .. ("#"):rep(30) .. "] 2/2  ok 2  "
          .. "failed 0", 1, true), screen)
        assert.equal(2, select(2, screen:gsub('"ok":true', "")), screen)
      end)
  end)

  describe("help", function()
    it("lists a command's parameters, the required ones marked",
      function()
        local out, err, status = cfs { "create-data-flow", "--help" }
        assert.equal(0, status, err)
        assert.matches("%* %-%-FileSystemId +string", out)
        assert.matches("\n    %-%-DataFlowName +string", out)
        assert.matches("%-%-AutoRefresh +non%-negative integer; one of 0, 1",
          out)
      end)

    it("lists every action as a command", function()
      local out, _, status = cfs { "--help" }
      assert.equal(0, status)
      local count = 0
      for line in out:gmatch "[^\n]+" do
        if line:match "^  [a-z][a-z%-]+$" then count = count + 1 end
      end
      local api = require "cfs.api"
      local actions = 0
      for _ in pairs(api.actions) do actions = actions + 1 end
      assert.truthy(out:find("\n  create-cfs-p-group\n", 1, true))
      assert.equal(actions, count)
    end)
  end)

  describe("emulator", function()
    it("runs cfs-emulator: status of a running one, and of none", function()
      local out, err, status = cfs { "emulator", "status", "--dir", em.dir }
      assert.equal(0, status, err)
      assert.truthy(out:find("status=running", 1, true), out)
      assert.truthy(out:find("admin_endpoint=" .. em.admin_endpoint, 1,
        true), out)
      local empty = os.tmpname()
      os.remove(empty)
      out, err, status = cfs { "emulator", "status", "--dir", empty }
      assert.equal(3, status, err)
      assert.equal("status=stopped\n", out)
    end)
  end)
end)
