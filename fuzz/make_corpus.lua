-- Writes the seed corpora of fuzz_sign and fuzz_encode in their input
-- formats (see each target's header), from the SDK fixtures and a few
-- hand-made cases. fuzz/corpus/decode holds answers as the emulator and
-- its faults sent them, plus hostile ones, each after one status byte.
--   lua5.4 fuzz/make_corpus.lua        (from the tree's root)
local cjson = require "cjson"

local function write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

local function field(s)
  return string.pack(">I2", #s) .. s
end

local function sign_input(c)
  return field(c.secret_id) .. field(c.secret_key) .. field(c.service)
    .. field(c.host) .. field(c.content_type)
    .. string.pack(">i8", c.timestamp) .. c.body
end

local f = assert(io.open("spec/fixtures/tc3-official-sdk.json", "rb"))
local cases = cjson.decode(f:read "a").cases
f:close()
for _, c in ipairs(cases) do
  write("fuzz/corpus/sign/" .. c.id, sign_input(c))
end
write("fuzz/corpus/sign/last_second_of_9999", sign_input {
  secret_id = "AKID", secret_key = "k", service = "cfs", host = "h",
  content_type = "application/json", timestamp = 253402300799,
  body = "{}" })

-- fuzz_encode's opcodes: 1 word, 2 integer, 3 double bits, 4 extreme,
-- 5 boolean or table, 6 t[key] = v, 7 append, 9 root[key] = v.
local OP = { word = 1, int = 2, double = 3, extreme = 4, bool = 5,
  set = 6, append = 7, root = 9 }
local KEY = { Name = 0, Count = 1, Limit = 2, Ratio = 3, Enabled = 4,
  Tags = 5, Numbers = 6, Ratios = 7, Filters = 8, Item = 9,
  SecretKey = 10, Id = 11, Label = 12, Flags = 13, Weight = 14,
  Child = 15, Children = 16, Values = 17 }
local function program(list)
  local bytes = {}
  for _, b in ipairs(list) do bytes[#bytes + 1] = string.char(b) end
  return table.concat(bytes)
end
local function int(v) return string.pack(">i8", v) end
local function double(v) return string.pack(">d", v) end

write("fuzz/corpus/encode/name_only", program {
  OP.word, 1, OP.root, KEY.Name })
write("fuzz/corpus/encode/scalars", program {
  OP.word, 5, OP.root, KEY.Name,
  OP.int } .. int(-42) .. program { OP.root, KEY.Count,
  OP.int } .. int(7) .. program { OP.root, KEY.Limit,
  OP.double } .. double(0.1) .. program { OP.root, KEY.Ratio,
  OP.bool, 1, OP.root, KEY.Enabled })
write("fuzz/corpus/encode/arrays", program {
  OP.word, 6, OP.root, KEY.Name,
  OP.bool, 3, OP.word, 2, OP.append, 0, OP.word, 3, OP.append, 0,
  OP.root, KEY.Tags,
  OP.bool, 3, OP.extreme, 0, OP.append, 0, OP.root, KEY.Ratios })
write("fuzz/corpus/encode/nested", program {
  OP.word, 1, OP.root, KEY.Name,
  OP.bool, 3, OP.int } .. int(1) .. program { OP.set, KEY.Id,
  OP.bool, 3, OP.int } .. int(2) .. program { OP.set, KEY.Id,
  OP.set, KEY.Child, OP.root, KEY.Item,
  OP.bool, 3, OP.bool, 3, OP.word, 1, OP.set, KEY.Name,
  OP.bool, 3, OP.word, 7, OP.append, 0, OP.set, KEY.Values,
  OP.append, 0, OP.root, KEY.Filters })
