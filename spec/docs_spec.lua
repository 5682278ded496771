-- The LDoc reference: `ldoc` builds it from config.ld, it names every
-- public function, and every @usage example runs against the emulator.
local emulator = require "spec.helpers.emulator"

local ROOT = emulator.ROOT

local MODULES = {
  { page = "cfs", module = "cfs", file = "lua/cfs/init.lua" },
  { page = "cfs.client", module = "cfs.client", file = "lua/cfs/client.lua" },
  { page = "cfs.errors", module = "cfs.errors", file = "lua/cfs/errors.lua" },
  { page = "cfs.credentials", module = "cfs.credentials",
    file = "lua/cfs/credentials.lua" },
  { page = "cfs.retry", module = "cfs.retry", file = "lua/cfs/retry.lua" },
  { page = "cfs.pace", module = "cfs.pace", file = "lua/cfs/pace.lua" },
  { page = "cfs.batch", module = "cfs.batch", file = "lua/cfs/batch.lua" },
}

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read "a"
  f:close()
  return text
end

local function run(command)
  local pipe = assert(io.popen(command .. " 2>&1; echo \"exit=$?\""))
  local out = pipe:read "a"
  pipe:close()
  return out, tonumber(out:match "exit=(%d+)%s*$")
end

-- Names of the functions in `t`, left out: metamethods and the actions'
-- methods (generated on first use, documented together in the README).
local function function_names(t, into, prefix)
  local methods = require("cfs.api").methods
  for name, value in pairs(t) do
    if type(value) == "function" and type(name) == "string"
        and not name:match "^_" and not methods[name] then
      into[#into + 1] = (prefix or "") .. name
    end
  end
  return into
end

local function public_functions(module)
  local t = require(module)
  local names = function_names(t, {})
  if module == "cfs.pace" then
    function_names(getmetatable(t.new { clock = os.clock }).__index, names)
  elseif module == "cfs.batch" then
    function_names(t.engines, names)
    local client = require("cfs").new { secret_id = "AKIDEXAMPLE",
      secret_key = "example", endpoint = "http://127.0.0.1:9" }
    local plan = t.plan(client, "DescribeDataFlow", {})
    function_names(getmetatable(plan).__index, names)
  end
  table.sort(names)
  return names
end

-- The @usage blocks of a source file: { line = N, code = "..." }.
local function usages(path)
  local list, current = {}, nil
  local number = 0
  for line in io.lines(ROOT .. "/" .. path) do
    number = number + 1
    if line:match "^%-%- @usage%s*$" then
      current = { line = number, lines = {} }
      list[#list + 1] = current
    elseif current and line:match "^%-%- " and not line:match "^%-%- @" then
      current.lines[#current.lines + 1] = line:sub(4)
    else
      current = nil
    end
  end
  for _, usage in ipairs(list) do usage.code = table.concat(usage.lines, "\n") end
  return list
end

describe("the reference", function()
  local docs

  setup(function()
    docs = os.tmpname()
    os.remove(docs)
    local out, status = run("cd " .. quote(ROOT) .. " && ldoc -d "
      .. quote(docs) .. " .")
    assert.equal(0, status, out)
  end)
  teardown(function() os.execute("rm -rf " .. quote(docs)) end)

  for _, m in ipairs(MODULES) do
    it("lists every public function of " .. m.module, function()
      local html = read(docs .. "/modules/" .. m.page .. ".html")
      local anchors = {}
      for name in html:gmatch 'name = "([^"]+)"' do
        anchors[name:match "[^.:]+$"] = true
      end
      local missing = {}
      for _, name in ipairs(public_functions(m.module)) do
        if not anchors[name] then missing[#missing + 1] = name end
      end
      assert.same({}, missing)
    end)
  end

  it("carries the example files", function()
    local html = read(docs .. "/examples/create_data_flow.lua.html")
    assert.truthy(html:find("create_data_flow", 1, true))
  end)
end)

describe("@usage examples", function()
  local em

  setup(function() em = emulator.start { workers = 1 } end)
  teardown(function() em:stop() end)
  before_each(function()
    em:reset()
    em:settings { rate_limit = 0, data_flow_limit = 100 }
  end)

  local function run_example(code)
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(code, "\n")
    f:close()
    local env = {
      "LUA_PATH=" .. quote(ROOT .. "/lua/?.lua;" .. ROOT
        .. "/lua/?/init.lua;;"),
      "LUA_CPATH=" .. quote(ROOT .. "/build/5.4/?.so;;"),
      "TENCENTCLOUD_SECRET_ID=" .. quote(em.secret_id),
      "TENCENTCLOUD_SECRET_KEY=" .. quote(em.secret_key),
      "TENCENTCLOUD_REGION=ap-guangzhou",
      "TENCENTCLOUD_CREDENTIALS_FILE=/nonexistent",
      "CFS_ENDPOINT=" .. quote(em.endpoint),
      "CFS_CA_FILE=" .. quote(em.ca_file),
      -- Never the real metadata service: the CVM role is left out.
      "CFS_METADATA_URL=off",
    }
    local out, status = run("env -u TENCENTCLOUD_SESSION_TOKEN "
      .. table.concat(env, " ") .. " lua5.4 " .. quote(path))
    os.remove(path)
    return out, status
  end

  for _, m in ipairs(MODULES) do
    for _, usage in ipairs(usages(m.file)) do
      it("runs " .. m.file .. ":" .. usage.line, function()
        local out, status = run_example(usage.code)
        assert.equal(0, status, usage.code .. "\n--\n" .. out)
      end)
    end
  end

  it("are found in every module", function()
    for _, m in ipairs(MODULES) do
      if m.module ~= "cfs.batch" then
        assert.truthy(#usages(m.file) > 0, m.file)
      end
    end
  end)
end)
