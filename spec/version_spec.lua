-- One version string: the rockspec, cfs._VERSION, cfs.core._VERSION and
-- the X-TC-RequestClient header agree.
local cfs = require "cfs"
local core = require "cfs.core"

local function rockspec_version()
  local pipe = assert(io.popen("ls cfs-*.rockspec"))
  local name = pipe:read "*l"
  pipe:close()
  local f = assert(io.open(name))
  local text = f:read "*a"
  f:close()
  return text:match('\nversion = "([^"]+)%-%d+"'), name
end

describe("version", function()
  it("is the same in the rockspec, cfs and cfs.core", function()
    local version, name = rockspec_version()
    assert.are.equal("cfs-" .. version .. "-1.rockspec", name)
    assert.are.equal(version, cfs._VERSION)
    assert.are.equal(version, core._VERSION)
  end)

  it("names the library and version in X-TC-RequestClient", function()
    local client = cfs.new { secret_id = "AKIDEXAMPLE", secret_key = "k",
      region = "ap-guangzhou", dry_run = true }
    local req = assert(client:describe_data_flow {})
    local header
    for _, h in ipairs(req.headers) do
      header = header or h:match "^X%-TC%-RequestClient: (.*)$"
    end
    assert.are.equal("SDK_LUA_CFS_" .. cfs._VERSION, header)
    -- The official SDKs accept only these characters there.
    assert.truthy(header:find "^[0-9a-zA-Z%-_ ,;.]+$")
  end)

  it("is listed at the top of the CHANGELOG", function()
    local f = assert(io.open "CHANGELOG.md")
    local text = f:read "*a"
    f:close()
    assert.truthy(text:find("## " .. cfs._VERSION, 1, true))
  end)
end)
