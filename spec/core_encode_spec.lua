-- Request bodies: declared order, integer fields, arrays, refusals.
local core = require "cfs.core"
local cjson = require "cjson"

local create = require "cfs.api.actions.CreateDataFlow"

local function fixture_case(id)
  local f = assert(io.open("spec/fixtures/tc3-official-sdk.json", "rb"))
  local data = cjson.decode(f:read "*a")
  f:close()
  for _, c in ipairs(data.cases) do
    if c.id == id then return c end
  end
end

local SEED = {
  FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
  SourceStorageAddress =
    "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
  SourcePath = "test3", TargetPath = "/cfs/test11",
  SecretId = "AKIDEXAMPLEEXAMPLE", SecretKey = "exampleSecretKeyValue",
  DataFlowName = "abctest",
}

local function with(t, extra)
  local copy = {}
  for k, v in pairs(t) do copy[k] = v end
  for k, v in pairs(extra) do copy[k] = v end
  return copy
end

local STRUCT = {
  { "Name", "string", required = true },
  { "Values", "string", array = true, required = true },
}
STRUCT.name = "Filter"
local LISTING = {
  { "Filters", STRUCT, array = true },
  { "Limit", "uint" },
  { "Ratio", "float" },
  { "Enabled", "boolean" },
  { "Tags", "string", array = true },
}

describe("cfs.core.encode", function()
  it("gives the official SDK's body bytes for the seed example", function()
    assert.are.equal(fixture_case("seed").body,
      core.encode(SEED, create.input))
  end)

  it("gives the SDK's bytes with raw UTF-8 and the Kafka fields", function()
    local cjk = with(SEED, { DataFlowName = "数据流-测试_1" })
    assert.are.equal(fixture_case("chinese_name").body,
      core.encode(cjk, create.input))
    local kafka = with(SEED, {
      AutoRefresh = 1, UserKafkaTopic = "cfs-dataflow-topic-1",
      ServerAddr = "kafkaconsumer-ap-guangzhou.cls.tencentyun.com:9095",
      UserName = "name",
      Password = "AKIDEXAMPLEEXAMPLE#exampleSecretKeyValue",
    })
    assert.are.equal(fixture_case("autorefresh_kafka").body,
      core.encode(kafka, create.input))
  end)

  it("sends an integer field as an integer, even from a float", function()
    local body = core.encode(with(SEED, { AutoRefresh = 1.0 }), create.input)
    assert.truthy(body:find('"AutoRefresh":1}', 1, true))
    assert.falsy(body:find("1.0", 1, true))
  end)

  it("gives the same bytes for the same table every time", function()
    local first = core.encode(SEED, create.input)
    for _ = 1, 50 do
      assert.are.equal(first, core.encode(with(SEED, {}), create.input))
    end
  end)

  it("sends an empty array as [] and nests structures", function()
    assert.are.equal('{"Filters":[],"Tags":[]}',
      core.encode({ Filters = {}, Tags = {} }, LISTING))
    assert.are.equal(
      '{"Filters":[{"Name":"a","Values":["x","y"]}],"Limit":100,'
        .. '"Ratio":0.25,"Enabled":false}',
      core.encode({ Filters = { { Values = { "x", "y" }, Name = "a" } },
        Limit = 100, Ratio = 0.25, Enabled = false }, LISTING))
  end)

  it("writes floats as the shortest text that reads back", function()
    assert.are.equal('{"Ratio":0.1}', core.encode({ Ratio = 0.1 }, LISTING))
    assert.are.equal('{"Ratio":1e+300}',
      core.encode({ Ratio = 1e300 }, LISTING))
  end)

  it("escapes strings as JSON.stringify does", function()
    local body = core.encode({ Tags = { 'a"b\\c\n\t\1/é' } }, LISTING)
    assert.are.equal('{"Tags":["a\\"b\\\\c\\n\\t\\u0001/é"]}', body)
  end)

  local function refusal(params, input)
    local body, code, path, message = core.encode(params, input)
    assert.is_nil(body)
    return code, path, message
  end

  it("refuses NaN and infinities before anything is sent", function()
    for _, v in ipairs { 0 / 0, math.huge, -math.huge } do
      local code, path = refusal({ Ratio = v }, LISTING)
      assert.are.equal("InvalidParameterValue", code)
      assert.are.equal("Ratio", path)
    end
  end)

  it("refuses a fractional or negative value for an integer field", function()
    local code, path, message = refusal({ Limit = 1.5 }, LISTING)
    assert.are.equal("InvalidParameterValue", code)
    assert.are.equal("Limit", path)
    assert.truthy(message:find("whole number", 1, true))
    code = refusal({ Limit = -1 }, LISTING)
    assert.are.equal("InvalidParameterValue", code)
  end)

  it("refuses invalid UTF-8, naming the byte", function()
    for _, bad in ipairs { "\255", "ab\192\128", "\237\160\128",
        "\244\144\128\128", "x\226\130" } do
      local code, path, message = refusal(with(SEED, { SourcePath = bad }),
        create.input)
      assert.are.equal("InvalidParameterValue", code)
      assert.are.equal("SourcePath", path)
      assert.truthy(message:find("not valid UTF-8", 1, true))
    end
  end)

  it("names the path of a wrong type deep in a structure", function()
    local code, path, message = refusal({ Filters = {
      { Name = "a", Values = { "x" } },
      { Name = "b", Values = "y" },
    } }, LISTING)
    assert.are.equal("InvalidParameter", code)
    assert.are.equal("Filters[2].Values", path)
    assert.are.equal("Filters[2].Values: expected an array (a table), "
      .. "got string", message)
  end)

  it("refuses an array where an object belongs, and the reverse", function()
    local code, path = refusal({ Filters = { { "a", "b" } } }, LISTING)
    assert.are.equal("InvalidParameter", code)
    assert.are.equal("Filters[1]", path)
    code, path = refusal({ Tags = { x = "y" } }, LISTING)
    assert.are.equal("InvalidParameter", code)
    assert.are.equal("Tags", path)
  end)

  it("reports a missing required field and an unknown one", function()
    local seed = with(SEED, {})
    seed.TargetPath = nil
    local code, path = refusal(seed, create.input)
    assert.are.equal("MissingParameter", code)
    assert.are.equal("TargetPath", path)
    code, path = refusal(with(SEED, { TargetPth = "/cfs/x" }), create.input)
    assert.are.equal("UnknownParameter", code)
    assert.are.equal("TargetPth", path)
    code, path = refusal({ Filters = { { Name = "a", Values = {},
      Valuez = {} } } }, LISTING)
    assert.are.equal("UnknownParameter", code)
    assert.are.equal("Filters[1].Valuez", path)
  end)

  it("never puts a value into its error message", function()
    local _, _, message = refusal(with(SEED, { SecretKey = 42 }),
      create.input)
    assert.are.equal("SecretKey: expected a string, got number", message)
  end)

  it("refuses structures nested past its depth limit", function()
    local deep = { { "Child", nil } }
    deep[1][2] = deep
    local value = {}
    local cur = value
    for _ = 1, 40 do cur.Child = {} cur = cur.Child end
    local code = refusal(value, deep)
    assert.are.equal("InvalidParameter", code)
  end)

  it("raises for a non-table argument: a programming mistake", function()
    assert.has_error(function() core.encode("x", create.input) end)
    assert.has_error(function() core.encode({}, nil) end)
  end)
end)
