-- The API's fields (shapes.json, made from the API file by make_shapes.lua):
-- checks a request's parameters against them, and builds a generic answer
-- of the right shape for actions the emulator does not model.
local util = require("cfs.emulator.util")

local M = {}

local shapes

function M.load(lua_dir)
  local path = lua_dir .. "/cfs/emulator/shapes.json"
  local text = assert(util.read_file(path))
  shapes = assert(util.json.decode(text))
end

function M.action(name)
  return shapes.actions[name]
end

function M.version()
  return shapes.version
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local check_fields

local function bad_type(path, kind)
  return "InvalidParameter",
         string.format("The value of `%s` is not of type %s.", path, kind)
end

local function check_value(value, kind, path)
  if kind == "String" then
    if type(value) ~= "string" then return bad_type(path, kind) end
  elseif kind == "Boolean" then
    if type(value) ~= "boolean" then return bad_type(path, kind) end
  elseif kind == "Float" then
    if type(value) ~= "number" then return bad_type(path, kind) end
  elseif kind:find("^Integer") then
    if type(value) ~= "number" or value % 1 ~= 0
       or (kind == "Integer(uint64)" and value < 0) then
      return bad_type(path, kind)
    end
  else
    local members = shapes.structures[kind]
    if type(value) ~= "table" or (next(value) and is_array(value)) then
      return bad_type(path, kind)
    end
    return check_fields(members, value, path .. ".")
  end
end

local function check_field(field, value, path)
  local kind, array = field[2], field[3]
  if not array then return check_value(value, kind, path) end
  if type(value) ~= "table" or not is_array(value) then
    return bad_type(path, "array of " .. kind)
  end
  for i, item in ipairs(value) do
    local code, message = check_value(item, kind, path .. "." .. (i - 1))
    if code then return code, message end
  end
end

local NULL = util.json.null
local SCALAR_TYPES = { String = "string", Boolean = "boolean",
                       Float = "number" }

-- The common case, a scalar of the right type, without building the
-- field's path (check_field builds it, and finds any fault).
local function plainly_fits(field, value)
  return not field[3] and SCALAR_TYPES[field[2]] == type(value)
end

-- The set of a field list's names, made once per list.
local known_names = setmetatable({}, { __mode = "k" })

local function names_of(fields)
  local known = known_names[fields]
  if known then return known end
  known = {}
  for _, field in ipairs(fields) do known[field[1]] = true end
  known_names[fields] = known
  return known
end

function check_fields(fields, params, prefix)
  local known = names_of(fields)
  for _, field in ipairs(fields) do
    local name = field[1]
    local value = params[name]
    if value == nil or value == NULL then
      if field[4] then
        return "MissingParameter", string.format(
          "The request is missing a required parameter `%s`.", prefix .. name)
      end
    elseif not plainly_fits(field, value) then
      local code, message = check_field(field, value, prefix .. name)
      if code then return code, message end
    end
  end
  for name in pairs(params) do
    if type(name) ~= "string" or not known[name] then
      return "UnknownParameter", string.format(
        "The parameter `%s` is not recognized.", prefix .. tostring(name))
    end
  end
end

-- Returns nil when params suit the action, else an error code and message.
function M.check_input(action, params)
  return check_fields(shapes.actions[action].input, params, "")
end

local example

local function example_value(kind, depth)
  if kind == "String" then return "" end
  if kind == "Boolean" then return false end
  if kind == "Float" then return 0.5 end
  if kind:find("^Integer") then return 0 end
  local out = {}
  if depth > 4 then return out end
  for _, field in ipairs(shapes.structures[kind]) do
    out[field[1]] = example(field, depth + 1)
  end
  return out
end

function example(field, depth)
  local value = example_value(field[2], depth)
  if field[3] then return { value } end
  return value
end

-- An answer with every output field holding a value of its type; arrays
-- hold one element so clients exercise their decoding of it.
function M.example_output(action)
  local out = {}
  for _, field in ipairs(shapes.actions[action].output) do
    if field[1] ~= "RequestId" then out[field[1]] = example(field, 1) end
  end
  return out
end

function M.example_structure(kind)
  return example_value(kind, 1)
end

return M
