-- cfs.validate: the semantic checks run before encoding.

local validate = require "cfs.validate"
local create_data_flow = require "cfs.api.actions.CreateDataFlow"
local modify_data_flow = require "cfs.api.actions.ModifyDataFlow"

local CJK = "\228\184\173"   -- U+4E2D, three bytes in UTF-8


local function flow(overrides)
  local params = {
    FileSystemId = "cfs-3a7b9c1d",
    SourceStorageType = "S3_COS",
    SourceStorageAddress =
      "https://bucket-1250000000.cos.ap-guangzhou.myqcloud.com",
    SourcePath = "/cos/test",
    TargetPath = "/cfs/test11/",
    SecretId = "AKIDEXAMPLE",
    SecretKey = "secret",
    DataFlowName = "abctest",
    AutoRefresh = 1,
  }
  for k, v in pairs(overrides or {}) do params[k] = v end
  return params
end


local function fails(description, params)
  local ok, err = validate.check(description, params)
  assert.is_nil(ok)
  assert.is_table(err)
  return err
end


describe("validate.check", function()
  it("returns nothing for a valid CreateDataFlow", function()
    assert.equal(0, select("#", validate.check(create_data_flow, flow())))
  end)

  it("ignores absent optional fields", function()
    local params = flow()
    params.DataFlowName, params.AutoRefresh = nil, nil
    assert.equal(0, select("#", validate.check(create_data_flow, params)))
  end)

  describe("DataFlowName", function()
    it("takes 64 CJK characters", function()
      local name = CJK:rep(64)
      assert.equal(192, #name)
      assert.is_nil(validate.check(create_data_flow,
        flow({ DataFlowName = name })))
    end)

    it("refuses 65 CJK characters with the service's code", function()
      local err = fails(create_data_flow, flow({ DataFlowName = CJK:rep(65) }))
      assert.equal("InvalidParameterValue.InvalidDataFlowName", err.code)
      assert.equal("DataFlowName", err.field)
      assert.truthy(err.message:find("^DataFlowName: 65 characters; "))
      assert.truthy(err.message:find("at most 64", 1, true))
    end)

    it("takes letters, digits, CJK, '_' and '-' together", function()
      assert.is_nil(validate.check(create_data_flow,
        flow({ DataFlowName = "flow_1-" .. CJK .. "\233\190\153" })))
    end)

    it("refuses a space", function()
      local err = fails(create_data_flow, flow({ DataFlowName = "abc test" }))
      assert.equal("InvalidParameterValue.InvalidDataFlowName", err.code)
      assert.truthy(err.message:find("DataFlowName: ' ' at character 4", 1,
        true))
      assert.truthy(err.message:find("'_' and '-'", 1, true))
    end)

    it("refuses characters outside the CJK block", function()
      local err = fails(create_data_flow,
        flow({ DataFlowName = "caf\195\169" }))   -- U+00E9
      assert.truthy(err.message:find("U+00E9", 1, true))
    end)

    it("draws the CJK line at the blocks' edges", function()
      local ext_a, hexagram, ideographic_space =
        "\227\144\128", "\228\183\128", "\227\128\128"
      assert.is_nil(validate.check(create_data_flow,
        flow({ DataFlowName = "a" .. ext_a .. "\233\191\191" })))
      for _, bad in ipairs({ hexagram, ideographic_space }) do
        local err = fails(create_data_flow,
          flow({ DataFlowName = CJK .. bad }))
        assert.truthy(err.message:find("at character 2", 1, true))
      end
    end)

    it("fails a bad name every time, after a good one passed", function()
      local good, bad = flow({ DataFlowName = CJK }), flow({
        DataFlowName = CJK .. " " })
      for _ = 1, 3 do
        assert.is_nil(validate.check(create_data_flow, good))
        fails(create_data_flow, bad)
      end
    end)

    it("applies to ModifyDataFlow too", function()
      local err = fails(modify_data_flow, { DataFlowId = "cfs-dataflow-1",
        FileSystemId = "cfs-3a7b9c1d", DataFlowName = "a/b" })
      assert.equal("InvalidParameterValue.InvalidDataFlowName", err.code)
    end)
  end)

  it("refuses a TargetPath outside /cfs/", function()
    local err = fails(create_data_flow, flow({ TargetPath = "/data/x" }))
    assert.equal("InvalidParameterValue.InvalidDataFlowTargetPath", err.code)
    assert.equal("TargetPath", err.field)
    assert.truthy(err.message:find('^TargetPath: "/data/x" does not begin '
      .. "with /cfs/; "))
  end)

  it("lists the allowed SourceStorageType values", function()
    local err = fails(create_data_flow, flow({ SourceStorageType = "S3" }))
    assert.equal("InvalidParameterValue.InvalidDataFlowSourceStorageType",
      err.code)
    assert.truthy(err.message:find("S3_COS, S3_L5", 1, true))
  end)

  it("refuses a FileSystemId not of the form cfs-[0-9a-z]+", function()
    local ids = { "fs-123", "cfs-", "cfs-ABC", "CFS-abc", "cfs-a b" }
    for _, id in ipairs(ids) do
      local err = fails(create_data_flow, flow({ FileSystemId = id }))
      assert.equal("InvalidParameterValue.InvalidFileSystemId", err.code)
    end
  end)

  it("checks numeric enums", function()
    local err = fails(create_data_flow, flow({ AutoRefresh = 2 }))
    assert.equal("InvalidParameterValue", err.code)
    assert.equal("AutoRefresh: 2 is not an allowed value; "
      .. "allowed: one of 0, 1", err.message)
  end)

  it("uses a service code named after the action's field", function()
    local description = require "cfs.api.actions.CreateLifecycleDataTask"
    local err = fails(description, { FileSystemId = "cfs-1", Type = "copy",
      TaskName = "t" })
    assert.equal("InvalidParameterValue.InvalidLifecycleDataTaskType",
      err.code)
    assert.truthy(err.message:find("archive, restore, release, metaload", 1,
      true))
  end)

  it("checks maximum values", function()
    local description = require "cfs.api.actions.DescribeDataFlow"
    assert.is_nil(validate.check(description, { Limit = 100 }))
    local err = fails(description, { Limit = 101 })
    assert.equal("Limit: 101 is too large; allowed: at most 100", err.message)
  end)

  it("recurses into arrays of structures, naming the path", function()
    local description = require "cfs.api.actions.CreateLifecyclePolicy"
    local rule = { StorageType = "InfrequentAccess", FileType = "ALL",
      Action = "Archive", Interval = "DEFAULT_ATIME_30", ExpireThreshold = 50 }
    local params = { LifecyclePolicyName = "p",
      LifecycleRules = { rule, { Action = "Archive", TargetThreshold = 5 } } }
    local err = fails(description, params)
    assert.equal("LifecycleRules[2].TargetThreshold", err.field)
    assert.equal("LifecycleRules[2].TargetThreshold: 5 is too small; "
      .. "allowed: at least 10", err.message)

    params.LifecycleRules[2] = { Action = "Keep" }
    err = fails(description, params)
    assert.equal("LifecycleRules[2].Action", err.field)
    assert.truthy(err.message:find("one of Archive, Noarchive", 1, true))
  end)

  it("leaves values of the wrong type to the encoder", function()
    assert.is_nil(validate.check(create_data_flow,
      flow({ AutoRefresh = "1", DataFlowName = 7, TargetPath = {} })))
  end)

  it("counts characters, not bytes, for max_chars", function()
    local description = require "cfs.api.actions.CreateLifecyclePolicy"
    assert.is_nil(validate.check(description,
      { LifecyclePolicyName = CJK:rep(64), LifecycleRules = {} }))
    local err = fails(description,
      { LifecyclePolicyName = ("x"):rep(65), LifecycleRules = {} })
    assert.equal("InvalidParameterValue", err.code)
    assert.equal("LifecyclePolicyName", err.field)
  end)
end)


describe("validate.suggest", function()
  local names = {}
  for i, entry in ipairs(create_data_flow.input) do names[i] = entry[1] end

  it("finds a name that differs in case", function()
    assert.equal("FileSystemId", validate.suggest("FileSystemID", names))
  end)

  it("finds a near misspelling", function()
    assert.equal("TargetPath", validate.suggest("TargtPath", names))
    assert.equal("AutoRefresh", validate.suggest("AutoRefesh",
      create_data_flow.input))
  end)

  it("gives nil when nothing is close", function()
    assert.is_nil(validate.suggest("Region", names))
  end)
end)


describe("validate.describe_kind", function()
  it("renders scalars, structures and arrays", function()
    local filters = require("cfs.api.actions.DescribeMigrationTasks").input[3]
    assert.equal("array of Filter", validate.describe_kind(filters))
    assert.equal("array of string", validate.describe_kind(filters[2][1]))
    assert.equal("string", validate.describe_kind({ "Name", "string" }))
    assert.equal("non-negative integer",
      validate.describe_kind({ "Limit", "uint" }))
  end)
end)
