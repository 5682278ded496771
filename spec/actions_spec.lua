-- Every action of the API, driven through validation and the emulator:
-- a minimal valid call built from the action's description answers every
-- field marked `always` with a value of its type; a wrong type deep in the
-- parameters is refused before sending, naming its path; the snake_case
-- method raises when given a string.
local cfs = require "cfs"
local api = require "cfs.api"
local emulator = require "spec.helpers.emulator"

local DOC_BUCKET =
  "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com"

-- Strings whose field names the emulator's modelled actions or the
-- client's action rules judge by meaning; other strings get "x".
local KNOWN = { FileSystemId = "cfs-44d53b63e", TargetPath = "/cfs/actions",
  SourceStorageAddress = DOC_BUCKET, SecretId = "AKIDEXAMPLEEXAMPLE",
  SecretKey = "exampleSecretKeyValue" }

local LUA_TYPES = { string = "string", int = "number", uint = "number",
  float = "number", boolean = "boolean" }

local function sorted_actions()
  local names = {}
  for name in pairs(api.actions) do names[#names + 1] = name end
  table.sort(names)
  return names
end


local minimal

-- One value of an entry's kind that its checks accept.
local function scalar(entry, known)
  if entry.enum then return entry.enum[1] end
  local kind = entry[2]
  if type(kind) == "table" then return minimal(kind, known) end
  if kind == "string" then return known[entry[1]] or "x" end
  if kind == "boolean" then return false end
  local n = entry.min or 1
  if entry.max and n > entry.max then n = entry.max end
  return n
end


local function value_for(entry, known)
  local v = scalar(entry, known)
  if entry.array then return { v } end
  return v
end


-- The required fields of a field list, filled recursively.
function minimal(fields, known)
  local params = {}
  for _, entry in ipairs(fields) do
    if entry.required then params[entry[1]] = value_for(entry, known) end
  end
  return params
end


-- A value of the wrong type for an entry.
local function wrong_value(entry)
  if entry.array or type(entry[2]) == "table" then return 42 end
  if entry[2] == "string" then return 42 end
  return "x"
end


-- The deepest field below a structure: { path = "Filters[1].Values",
-- steps = { {entry, index}... } }, or nil for flat inputs.
local function deepest(fields, depth)
  local best
  for _, entry in ipairs(fields) do
    local kind, found = entry[2], nil
    if type(kind) == "table" then
      found = deepest(kind, depth + 1)
      if found then table.insert(found.steps, 1, entry) end
    elseif depth > 0 then
      found = { steps = { entry }, depth = depth }
    end
    if found and (not best or found.depth > best.depth) then best = found end
  end
  return best
end


-- The first required field inside a structure, as for deepest.
local function nested_required(fields, depth)
  for _, entry in ipairs(fields) do
    if type(entry[2]) == "table" then
      local found = nested_required(entry[2], depth + 1)
      if found then
        table.insert(found.steps, 1, entry)
        return found
      end
    elseif depth > 0 and entry.required then
      return { steps = { entry } }
    end
  end
end


local function path_of(steps)
  local parts = {}
  for i, entry in ipairs(steps) do
    local array = entry.array and i < #steps
    parts[i] = entry[1] .. (array and "[1]" or "")
  end
  return table.concat(parts, ".")
end


-- Minimal params with `leaf` (a wrong value, or nil) at the end of
-- `steps`, the structures on the way filled with their required fields.
local function with_leaf(input, steps, known, leaf)
  local params = minimal(input, known)
  local parent = params
  for i, entry in ipairs(steps) do
    if i == #steps then
      parent[entry[1]] = leaf
    else
      local value = parent[entry[1]] or value_for(entry, known)
      parent[entry[1]] = value
      parent = entry.array and value[1] or value
    end
  end
  return params
end


-- Where the answer breaks the description: a list of messages.
local function check_output(fields, value, prefix, problems)
  for _, entry in ipairs(fields) do
    local path = prefix .. entry[1]
    local v = value[entry[1]]
    local kind = entry[2]
    local want = type(kind) == "table" and "table" or LUA_TYPES[kind]
    local items = { v }
    if entry.array then
      if type(v) ~= "table" then
        items = {}
        if entry.always or v ~= nil then
          problems[#problems + 1] = path .. ": not an array"
        end
      else
        items = v
      end
    elseif v == nil then
      items = {}
      if entry.always then problems[#problems + 1] = path .. ": missing" end
    end
    for i, item in ipairs(items) do
      local at = entry.array and (path .. "[" .. i .. "]") or path
      if type(item) ~= want then
        problems[#problems + 1] = at .. ": " .. type(item) .. ", not "
          .. want
      elseif want == "table" then
        check_output(kind, item, at .. ".", problems)
      end
    end
  end
  return problems
end


describe("every action", function()
  local em, client
  local flow_ids = {}

  -- Looked up when a test runs, after setup has made the flows.
  local function known_for(action)
    return setmetatable({}, { __index = function(_, name)
      if name == "DataFlowId" then
        return flow_ids[action] or "cfs-dataflow-00000000"
      end
      return KNOWN[name]
    end })
  end

  setup(function()
    em = emulator.start { workers = 1 }
    em:settings { rate_limit = 0, data_flow_limit = 100,
      pending_seconds = 1 }
    client = cfs.new { secret_id = em.secret_id, secret_key = em.secret_key,
      region = "ap-guangzhou", endpoint = em.endpoint, ca_file = em.ca_file,
      pacer = false, retry = false }
    -- ModifyDataFlow and DeleteDataFlow act on flows that exist, each
    -- its own, as DeleteDataFlow comes first.
    local create_input = require("cfs.api.actions.CreateDataFlow").input
    for _, action in ipairs { "ModifyDataFlow", "DeleteDataFlow" } do
      local created = assert(client:create_data_flow(
        minimal(create_input, KNOWN)))
      flow_ids[action] = created.DataFlowId
    end
  end)
  teardown(function() if em then em:stop() end end)

  local function sent_count()
    return #em:requests()
  end

  it("are 64", function()
    assert.equal(64, #sorted_actions())
  end)

  for _, action in ipairs(sorted_actions()) do
    local method = api.actions[action].method

    describe(action, function()
      local description = require("cfs.api.actions." .. action)
      local known = known_for(action)

      it("answers every always field with its type", function()
        local params = minimal(description.input, known)
        local res, err = client[method](client, params)
        assert.is_nil(err, tostring(err))
        assert.is_string(res.RequestId)
        assert.truthy(#res.RequestId > 0)
        assert.same({}, check_output(description.output, res, "", {}))
      end)

      local leaf = deepest(description.input, 0)
      if leaf then
        local path = path_of(leaf.steps)
        it("refuses a wrong type at " .. path .. " before sending",
           function()
          local before = sent_count()
          local params = with_leaf(description.input, leaf.steps, known,
            wrong_value(leaf.steps[#leaf.steps]))
          local res, err = client:call(action, params)
          assert.is_nil(res)
          assert.equal("InvalidParameter", err.code)
          assert.equal(path, err.field)
          assert.truthy(err.message:find(path, 1, true))
          assert.is_nil(err.request_id)
          assert.equal(before, sent_count())
        end)
      elseif description.input[1] then
        local first = description.input[1]
        it("refuses a wrong type at " .. first[1] .. " before sending",
           function()
          local before = sent_count()
          local params = minimal(description.input, known)
          params[first[1]] = wrong_value(first)
          local res, err = client:call(action, params)
          assert.is_nil(res)
          assert.equal("InvalidParameter", err.code)
          assert.equal(first[1], err.field)
          assert.equal(before, sent_count())
        end)
      end

      local required = nested_required(description.input, 0)
      if required then
        local path = path_of(required.steps)
        it("client and emulator both require " .. path, function()
          local params = with_leaf(description.input, required.steps, known,
            nil)
          local _, err = client:call(action, params)
          assert.equal("MissingParameter", err.code)
          assert.equal(path, err.field)
          local answer = em:call(action, params)
          assert.equal("MissingParameter", emulator.code(answer))
          -- the emulator counts array items from 0, as the service does
          local shown = path:gsub("%[(%d+)%]", function(i)
            return "." .. (i - 1)
          end)
          assert.truthy(answer.Response.Error.Message:find(shown, 1, true),
            answer.Response.Error.Message)
        end)
      end

      it("raises when its method is given a string", function()
        assert.has_error(function() client[method](client, "x") end,
          "cfs: " .. action .. ": params must be a table, got string")
      end)
    end)
  end
end)


describe("descriptions load on first use", function()
  it("a first call loads its action's description only", function()
    local root = emulator.ROOT
    local script = os.tmpname()
    local f = assert(io.open(script, "wb"))
    f:write [[
      local client = require("cfs").new { secret_id = "AKIDEXAMPLE",
        secret_key = "example", region = "ap-guangzhou", dry_run = true }
      assert(client:describe_data_flow { Limit = 1 })
      for name in pairs(package.loaded) do
        if name:find "^cfs%.api%.actions%." then print(name) end
      end
    ]]
    f:close()
    local pipe = assert(io.popen("LUA_PATH='" .. root .. "/lua/?.lua;"
      .. root .. "/lua/?/init.lua;;' LUA_CPATH='" .. root
      .. "/build/5.4/?.so;;' lua5.4 " .. script .. " 2>&1"))
    local out = pipe:read "*a"
    pipe:close()
    os.remove(script)
    assert.equal("cfs.api.actions.DescribeDataFlow\n", out)
  end)
end)
