-- Semantic checks on request parameters, run before cfs.core.encode.
--
-- The C encoder owns types, required and unknown fields; this module owns
-- what needs the API's meaning: enum values, numeric ranges, lengths in
-- characters, and the rules of particular actions (a data flow's name,
-- target path, source type and file system ID).
--
--   validate.check(description, params)  -> nothing, or nil, err
--       err = { code = <service code or "InvalidParameterValue">,
--               field = "Filters[2].Values",
--               message = "<field>: <what was wrong>; <what is allowed>" }
--   validate.suggest(name, candidates)   -> closest candidate, or nil
--   validate.describe_kind(entry)        -> "string", "array of Filter", ...
--
-- check is on every request's path: each description is turned once into a
-- plan holding only the fields that have something to check, cached weakly,
-- and the success path builds no strings, tables or closures.

local validate = {}

local type, tostring = type, tostring
local ipairs, setmetatable = ipairs, setmetatable
local byte, find, format, lower = string.byte, string.find, string.format,
  string.lower
local concat, floor = table.concat, math.floor
local utf8_len = utf8 and utf8.len   -- absent under LuaJIT

local GENERIC_CODE = "InvalidParameterValue"
local INVALID_PREFIX = "InvalidParameterValue.Invalid"


-- Characters and code points ---------------------------------------------

-- Characters in a UTF-8 string: bytes that do not continue a sequence.
local function char_count(s)
  local n = utf8_len and utf8_len(s)
  if n then return n end
  n = 0
  for i = 1, #s do
    local b = byte(s, i)
    if b < 0x80 or b >= 0xC0 then n = n + 1 end
  end
  return n
end


-- The code point starting at byte i and the byte after it; a malformed
-- sequence yields nil (the encoder reports invalid UTF-8 by itself).
local function code_point(s, i)
  local b = byte(s, i)
  if b < 0x80 then return b, i + 1 end
  local extra, cp
  if b >= 0xF0 then extra, cp = 3, b - 0xF0
  elseif b >= 0xE0 then extra, cp = 2, b - 0xE0
  elseif b >= 0xC0 then extra, cp = 1, b - 0xC0
  else return nil, i + 1 end
  for j = i + 1, i + extra do
    local c = byte(s, j)
    if not c or c < 0x80 or c >= 0xC0 then return nil, j end
    cp = cp * 64 + (c - 0x80)
  end
  return cp, i + extra + 1
end


local function show_char(cp)
  if cp and cp >= 0x20 and cp < 0x7F then return format("'%c'", cp) end
  if cp then return format("U+%04X", cp) end
  return "a malformed byte"
end


-- A value as a message shows it: quoted, and cut short so a long string
-- cannot swamp the message.
local function show(value)
  if type(value) ~= "string" then return tostring(value) end
  if #value > 40 then value = value:sub(1, 37) .. "..." end
  return format("%q", value)
end


-- Rules of particular actions ----------------------------------------------

-- CJK Unified Ideographs and Extension A; the documentation says "Chinese
-- characters" without a range.
local function is_cjk(cp)
  return (cp >= 0x4E00 and cp <= 0x9FFF) or (cp >= 0x3400 and cp <= 0x4DBF)
end


local function is_name_ascii(cp)
  return (cp >= 48 and cp <= 57) or (cp >= 65 and cp <= 90)
    or (cp >= 97 and cp <= 122) or cp == 95 or cp == 45
end


-- Where a name breaks the character rule, for the message.
local function first_bad_char(value)
  local i, position = 1, 1
  while i <= #value do
    local cp, next_i = code_point(value, i)
    if not cp or not (cp < 0x80 and is_name_ascii(cp) or is_cjk(cp)) then
      return format("%s at character %d is not allowed", show_char(cp),
        position),
        "letters, digits, CJK characters, '_' and '-'"
    end
    i, position = next_i, position + 1
  end
end


-- Returns what is wrong and what is allowed, or nothing. Byte patterns
-- settle the common cases in three calls: in valid UTF-8, a string of
-- allowed ASCII, lead bytes E4..E9 and continuation bytes holds only
-- U+4000..U+9FFF, less E4 B7 (U+4DC0..U+4DFF). Anything else, E3 leads of
-- Extension A included, takes the slow walk.
local function data_flow_name(value)
  if find(value, "^[A-Za-z0-9_%-]*$") then return end
  if utf8_len and find(value, "^[A-Za-z0-9_%-\228-\233\128-\191]*$")
      and not find(value, "\228\183", 1, true) and utf8_len(value) then
    return
  end
  return first_bad_char(value)
end


local function data_flow_target_path(value)
  if find(value, "^/cfs/") then return end
  return show(value) .. " does not begin with /cfs/",
    "a path inside the file system, written /cfs/<dir>/..., "
      .. "not a client mount point"
end


local function file_system_id(value)
  if find(value, "^cfs%-[0-9a-z]+$") then return end
  return show(value) .. " is not a file system ID",
    "cfs- followed by lower-case letters and digits, e.g. cfs-1a2b3c4d"
end


local DATA_FLOW_RULES = {
  DataFlowName = { code = "InvalidParameterValue.InvalidDataFlowName",
    max_chars = 64, check = data_flow_name },
  TargetPath = { code = "InvalidParameterValue.InvalidDataFlowTargetPath",
    check = data_flow_target_path },
  SourceStorageType = {
    code = "InvalidParameterValue.InvalidDataFlowSourceStorageType",
    enum = { "S3_COS", "S3_L5" } },
  FileSystemId = { code = "InvalidParameterValue.InvalidFileSystemId",
    check = file_system_id },
}

-- Per action, per top-level field: a service code for the failure, and
-- checks the description cannot express.
local ACTION_RULES = {
  CreateDataFlow = DATA_FLOW_RULES,
  ModifyDataFlow = DATA_FLOW_RULES,
  CreateLifecycleDataTask = {
    Type = { code = "InvalidParameterValue.InvalidLifecycleDataTaskType" },
  },
}


-- Plans ---------------------------------------------------------------------

local plans = setmetatable({}, { __mode = "k" })

local compile_fields


local function enum_set(values)
  local set, shown = {}, {}
  for i, v in ipairs(values) do
    set[v] = true
    shown[i] = tostring(v)
  end
  return set, concat(shown, ", ")
end


-- The service's own code for a field when its errors name one, such as
-- InvalidParameterValue.InvalidFileSystemId for FileSystemId.
local function field_code(name, codes)
  local code = INVALID_PREFIX .. name
  if codes and codes[code] then return code end
  return GENERIC_CODE
end


-- One field's checks, or nil when there is nothing to check.
local function compile_entry(entry, rule, codes)
  local kind = entry[2]
  local check = { name = entry[1], array = entry.array,
    min = entry.min, max = entry.max, max_chars = entry.max_chars }
  rule = rule or {}
  check.code = rule.code or field_code(entry[1], codes)
  check.rule = rule.check
  check.passed, check.passed_count = {}, 0
  check.max_chars = check.max_chars or rule.max_chars
  local values = entry.enum or rule.enum
  if values then check.enum, check.allowed = enum_set(values) end

  if type(kind) == "table" then
    check.fields = compile_fields(kind)
    if #check.fields == 0 then return nil end
  elseif not (check.enum or check.min or check.max or check.max_chars
      or check.rule) then
    return nil
  end
  return check
end


-- A structure or input list -> the list of checks it needs; structures are
-- shared between actions, so their plans are cached by table too.
function compile_fields(entries, rules, codes)
  local cached = plans[entries]
  if cached then return cached end
  local fields = {}
  for _, entry in ipairs(entries) do
    local check = compile_entry(entry, rules and rules[entry[1]], codes)
    if check then fields[#fields + 1] = check end
  end
  plans[entries] = fields
  return fields
end


local function compile(description)
  local codes = {}
  for _, code in ipairs(description.errors or {}) do codes[code] = true end
  local input = description.input or {}
  local fields = {}
  for _, entry in ipairs(input) do
    local rules = ACTION_RULES[description.name]
    local check = compile_entry(entry, rules and rules[entry[1]], codes)
    if check then fields[#fields + 1] = check end
  end
  plans[description] = fields
  return fields
end


-- Checking ------------------------------------------------------------------

-- A failure: field holds the path below the current level, filled in as
-- the failure travels up.
local function failure(check, problem, allowed)
  return { code = check.code, problem = problem, allowed = allowed }
end


-- Strings that passed, so the same file system ID, path or name sent
-- again costs one lookup; bounded, since values vary without end.
local PASSED_LIMIT = 64

local function remember(check, value)
  if check.passed_count >= PASSED_LIMIT then
    check.passed, check.passed_count = {}, 0
  end
  check.passed[value] = true
  check.passed_count = check.passed_count + 1
end


-- Values of the wrong type are left alone: the encoder reports them. An
-- enum is the whole set of allowed values, so a value in it is done with.
local function check_scalar(check, value)
  local enum = check.enum
  if enum and enum[value] then return end
  local t = type(value)
  if enum and (t == "string" or t == "number") then
    return failure(check, show(value) .. " is not an allowed value",
      "one of " .. check.allowed)
  end
  if t == "number" then
    if check.min and value < check.min then
      return failure(check, show(value) .. " is too small",
        "at least " .. check.min)
    end
    if check.max and value > check.max then
      return failure(check, show(value) .. " is too large",
        "at most " .. check.max)
    end
  elseif t == "string" then
    if check.passed[value] then return end
    local limit = check.max_chars
    if limit and #value > limit then
      local n = char_count(value)
      if n > limit then
        return failure(check, n .. " characters",
          "at most " .. limit .. " characters")
      end
    end
    if check.rule then
      local problem, allowed = check.rule(value)
      if problem then return failure(check, problem, allowed) end
    end
    remember(check, value)
  end
end


local check_fields


local function check_one(check, value)
  if check.fields then
    if type(value) == "table" then return check_fields(check.fields, value) end
    return nil
  end
  return check_scalar(check, value)
end


local function below(prefix, failed)
  failed.field = failed.field and prefix .. "." .. failed.field or prefix
  return failed
end


local function check_field(check, value)
  if not check.array then
    local failed = check_one(check, value)
    return failed and below(check.name, failed)
  end
  if type(value) ~= "table" then return nil end
  for i = 1, #value do
    local failed = check_one(check, value[i])
    if failed then return below(check.name .. "[" .. i .. "]", failed) end
  end
end


function check_fields(fields, params)
  for i = 1, #fields do
    local check = fields[i]
    local value = params[check.name]
    if value ~= nil then
      -- plain scalars, the common case, skip a call
      local failed
      if check.array or check.fields then
        failed = check_field(check, value)
      else
        failed = check_scalar(check, value)
        if failed then failed = below(check.name, failed) end
      end
      if failed then return failed end
    end
  end
end


-- Public ------------------------------------------------------------------

function validate.check(description, params)
  if type(params) ~= "table" then return end
  local fields = plans[description] or compile(description)
  local failed = check_fields(fields, params)
  if not failed then return end
  return nil, { code = failed.code, field = failed.field,
    message = failed.field .. ": " .. failed.problem .. "; allowed: "
      .. failed.allowed }
end


local KIND_NAMES = {
  string = "string", int = "integer", uint = "non-negative integer",
  float = "number", boolean = "boolean",
}


function validate.describe_kind(entry)
  local kind = entry[2]
  local name
  if type(kind) == "table" then
    name = kind.name or "structure"
  else
    name = KIND_NAMES[kind] or tostring(kind)
  end
  if entry.array then return "array of " .. name end
  return name
end


-- Levenshtein distance, two rows.
local function distance(a, b)
  local previous, current = {}, {}
  for j = 0, #b do previous[j] = j end
  for i = 1, #a do
    current[0] = i
    local ca = byte(a, i)
    for j = 1, #b do
      local cost = ca == byte(b, j) and 0 or 1
      local best = previous[j - 1] + cost
      if previous[j] + 1 < best then best = previous[j] + 1 end
      if current[j - 1] + 1 < best then best = current[j - 1] + 1 end
      current[j] = best
    end
    previous, current = current, previous
  end
  return previous[#b]
end


-- The candidate a misspelt name most likely meant. Case is ignored, since
-- FileSystemID for FileSystemId is the commonest slip; ties go to the
-- first candidate. Candidates are names or field entries.
function validate.suggest(name, candidates)
  if type(name) ~= "string" or type(candidates) ~= "table" then return nil end
  local wanted = lower(name)
  local limit = floor(#name / 3)
  if limit < 1 then limit = 1 end
  local best, best_distance
  for _, candidate in ipairs(candidates) do
    if type(candidate) == "table" then candidate = candidate[1] end
    if type(candidate) == "string" then
      local d = distance(wanted, lower(candidate))
      if d <= limit and (not best_distance or d < best_distance) then
        best, best_distance = candidate, d
      end
    end
  end
  return best
end


return validate
