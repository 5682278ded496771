-- The emulator's own TC3 code (LuaJIT FFI into libcrypto) against the
-- published worked example and the official SDK's requests. It runs under
-- LuaJIT, as inside nginx, so the spec drives a luajit process.
local emulator = require("spec.helpers.emulator")

local SCRIPT = [[
package.path = ROOT .. "/lua/?.lua;" .. package.path
local cjson = require("cjson")
local tc3 = require("cfs.emulator.tc3")
local f = io.open(ROOT .. "/" .. FIXTURE, "rb")
local cases = cjson.decode(f:read("*a")).cases
f:close()
for _, c in ipairs(cases) do
  local names = {}
  for n in c.signed_headers:gmatch("[^;]+") do names[#names + 1] = n end
  local headers = { ["content-type"] = c.content_type, host = c.host,
                    ["x-tc-action"] = c.action }
  local got = tc3.authorization(c.secret_id, c.secret_key, c.timestamp,
    c.service, names, headers, tc3.sha256_hex(c.body))
  local parsed = tc3.parse_authorization(c.authorization)
  io.write(c.id, " ", tostring(got == c.authorization), " ",
           tostring(parsed and parsed.secret_id == c.secret_id), "\n")
end
]]

local function run(fixture)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(string.format("local ROOT, FIXTURE = %q, %q\n", emulator.ROOT,
                        fixture), SCRIPT)
  f:close()
  local out = io.popen("luajit " .. path .. " 2>&1"):read("a")
  os.remove(path)
  return out
end

describe("emulator TC3 (LuaJIT FFI)", function()
  for _, fixture in ipairs({ "spec/fixtures/tc3-published.json",
                             "spec/fixtures/tc3-official-sdk.json" }) do
    it("reproduces every Authorization in " .. fixture, function()
      local out = run(fixture)
      local lines = 0
      for id, same, parsed in out:gmatch("(%S+) (%S+) (%S+)\n") do
        lines = lines + 1
        assert.equal("true", same, id)
        assert.equal("true", parsed, id)
      end
      assert.is_true(lines > 0, out)
    end)
  end
end)
