-- Regenerates shapes.json (the emulator's copy of the API's fields) from the
-- API file, so the emulator needs nothing outside its own directory:
--   lua5.4 lua/cfs/emulator/make_shapes.lua api/cfs-2019-07-19.json \
--     > lua/cfs/emulator/shapes.json
local cjson = require("cjson")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

-- A field becomes [name, type, array, required]: small, and ordered.
-- Required is for input only: a structure's always_present says what an
-- answer holds, required_when_input what a request must give.
local function fields(list)
  local out = {}
  for i, f in ipairs(list) do
    out[i] = { f.name, f.type, f.array and true or false,
               (f.required or f.required_when_input) and true or false }
  end
  return out
end

local api = cjson.decode(read(arg[1]))
local shapes = { version = api.version, actions = {}, structures = {} }
for name, action in pairs(api.actions) do
  shapes.actions[name] = { input = fields(action.input),
                           output = fields(action.output),
                           errors = action.errors }
end
for name, members in pairs(api.structures) do
  shapes.structures[name] = fields(members)
end
io.write(cjson.encode(shapes), "\n")
