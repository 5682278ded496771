-- The data-flow actions: every CreateDataFlow error code from a request
-- that deserves it, the flow's life (pending, available, deleting, gone),
-- paging and filters, and state kept across a restart.
local emulator = require("spec.helpers.emulator")

local code = emulator.code

local DOC_BUCKET =
  "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com"
local CHECKED_BUCKET =
  "https://cfs-emulator-checked-1250000000.cos.ap-shanghai.myqcloud.com"

local function params(extra)
  local p = { FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
    SourceStorageAddress = DOC_BUCKET, SourcePath = "test3",
    TargetPath = "/cfs/test11", SecretId = "AKIDcosExample",
    SecretKey = "cosExampleKey", DataFlowName = "abctest" }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

describe("emulated data flows", function()
  local em

  setup(function()
    em = emulator.start({ workers = 2 })
  end)

  teardown(function()
    if em then em:stop() end
  end)

  before_each(function()
    em:reset()
    em:settings({ rate_limit = 0, pending_seconds = 1,
                  data_flow_limit = 10 })
  end)

  local function create(extra, o)
    local r = em:call("CreateDataFlow", params(extra), o)
    return r, code(r)
  end

  describe("CreateDataFlow errors", function()
    it("ResourceNotFound.FileSystemNotFound for an unknown file system",
       function()
      local _, c = create({ FileSystemId = "cfs-00000000" })
      assert.equal("ResourceNotFound.FileSystemNotFound", c)
    end)

    it("ResourceNotFound.FileSystemNotFound in another region", function()
      local _, c = create(nil, { region = "ap-shanghai" })
      assert.equal("ResourceNotFound.FileSystemNotFound", c)
    end)

    it("InvalidParameterValue.InvalidFileSystemId for a malformed id",
       function()
      for _, id in ipairs({ "fs-44d53b63e", "cfs-", "cfs-44D5!", "" }) do
        local _, c = create({ FileSystemId = id })
        assert.equal("InvalidParameterValue.InvalidFileSystemId", c, id)
      end
    end)

    it("InvalidParameterValue.InvalidDataFlowName: 65 characters or bad "
       .. "characters", function()
      local _, c = create({ DataFlowName = string.rep("a", 65) })
      assert.equal("InvalidParameterValue.InvalidDataFlowName", c)
      _, c = create({ DataFlowName = "has space" })
      assert.equal("InvalidParameterValue.InvalidDataFlowName", c)
      _, c = create({ DataFlowName = "dot.name" })
      assert.equal("InvalidParameterValue.InvalidDataFlowName", c)
    end)

    it("counts a name's characters, not its bytes", function()
      -- 64 CJK characters are 192 bytes, and allowed.
      local _, c = create({ DataFlowName = string.rep("数", 64) })
      assert.is_nil(c)
      _, c = create({ DataFlowName = string.rep("数", 65) })
      assert.equal("InvalidParameterValue.InvalidDataFlowName", c)
      _, c = create({ DataFlowName = "数据流-测试_1" })
      assert.is_nil(c)
    end)

    it("InvalidParameterValue.InvalidDataFlowSourceStorageType", function()
      local _, c = create({ SourceStorageType = "S3" })
      assert.equal("InvalidParameterValue.InvalidDataFlowSourceStorageType",
                   c)
      _, c = create({ SourceStorageType = "S3_L5" })
      assert.is_nil(c)
    end)

    it("InvalidParameterValue.InvalidDataFlowTargetPath", function()
      for _, path in ipairs({ "/data/x", "cfs/x", "/cfs", "/cfs/../etc",
                              "/cfs//x" }) do
        local _, c = create({ TargetPath = path })
        assert.equal("InvalidParameterValue.InvalidDataFlowTargetPath", c,
                     path)
      end
    end)

    it("InvalidParameterValue.InvalidDataFlowSourceInfo: unknown bucket or "
       .. "keys that cannot read it", function()
      local _, c = create({ SourceStorageAddress =
        "https://nobody-1250000000.cos.ap-guangzhou.myqcloud.com" })
      assert.equal("InvalidParameterValue.InvalidDataFlowSourceInfo", c)
      _, c = create({ SourceStorageAddress = CHECKED_BUCKET })
      assert.equal("InvalidParameterValue.InvalidDataFlowSourceInfo", c)
      local reader = emulator.default_config().buckets[2].keys[1]
      _, c = create({ SourceStorageAddress = CHECKED_BUCKET,
        SecretId = reader.secret_id, SecretKey = reader.secret_key })
      assert.is_nil(c)
    end)

    it("InvalidParameterValue.InvalidLifecycleDataTaskType for an "
       .. "AutoRefresh other than 0 or 1", function()
      local _, c = create({ AutoRefresh = 2 })
      assert.equal("InvalidParameterValue.InvalidLifecycleDataTaskType", c)
    end)

    it("ResourceInsufficient.DataFlowLimitExceeded past the limit",
       function()
      em:settings({ data_flow_limit = 2 })
      assert.is_nil(select(2, create()))
      assert.is_nil(select(2, create()))
      local _, c = create()
      assert.equal("ResourceInsufficient.DataFlowLimitExceeded", c)
      -- Another file system has its own limit.
      assert.is_nil(select(2, create({ FileSystemId = "cfs-2a7c9e10" })))
    end)
  end)

  describe("a flow's life", function()
    it("is pending, then available after pending_seconds", function()
      local r = create()
      local id = r.Response.DataFlowId
      assert.matches("^cfs%-dataflow%-%x+$", id)
      local d = em:call("DescribeDataFlow", { DataFlowId = id })
      local flow = d.Response.DataFlows[1]
      assert.equal("pending", flow.Status)
      assert.equal("/cfs/test11/", flow.TargetPath)
      assert.equal("abctest", flow.DataFlowName)
      assert.is_nil(flow.SecretKey)
      os.execute("sleep 1.2")
      d = em:call("DescribeDataFlow", { DataFlowId = id })
      assert.equal("available", d.Response.DataFlows[1].Status)
    end)

    it("is deleting, then gone", function()
      local id = create().Response.DataFlowId
      local r = em:call("DeleteDataFlow", { DataFlowId = id })
      assert.is_nil(code(r))
      local d = em:call("DescribeDataFlow", { DataFlowId = id })
      assert.equal("deleting", d.Response.DataFlows[1].Status)
      assert.equal("InvalidParameterValue.InvalidDataFlowId",
        code(em:call("DeleteDataFlow", { DataFlowId = id })))
      os.execute("sleep 1.2")
      d = em:call("DescribeDataFlow", { DataFlowId = id })
      assert.equal(0, d.Response.TotalCount)
      assert.same({}, d.Response.DataFlows)
    end)

    it("frees its place in the limit when deleted", function()
      em:settings({ data_flow_limit = 1 })
      local id = create().Response.DataFlowId
      assert.equal("ResourceInsufficient.DataFlowLimitExceeded",
                   select(2, create()))
      em:call("DeleteDataFlow", { DataFlowId = id })
      assert.is_nil(select(2, create()))
    end)

    it("is modified by ModifyDataFlow", function()
      local id = create().Response.DataFlowId
      local r = em:call("ModifyDataFlow", { DataFlowId = id,
        FileSystemId = "cfs-44d53b63e", DataFlowName = "renamed",
        AutoRefresh = 1 })
      assert.is_nil(code(r))
      assert.equal(id, r.Response.DataFlowId)
      local flow = em:flows()[1]
      assert.equal("renamed", flow.DataFlowName)
      assert.equal(1, flow.AutoRefresh)
    end)

    it("refuses ModifyDataFlow on bad ids, names and keys", function()
      local id = create({ SourceStorageAddress = CHECKED_BUCKET,
        SecretId = "AKIDcfsEmulatorCosReader00000000001",
        SecretKey = "cfsEmulatorCosReaderKey00000001" }).Response.DataFlowId
      local base = { DataFlowId = id, FileSystemId = "cfs-44d53b63e" }
      local function modify(extra)
        local p = {}
        for k, v in pairs(base) do p[k] = v end
        for k, v in pairs(extra) do p[k] = v end
        return code(em:call("ModifyDataFlow", p))
      end
      assert.equal("InvalidParameterValue.InvalidDataFlowId",
                   modify({ DataFlowId = "cfs-dataflow-zz" }))
      assert.equal("InvalidParameterValue.InvalidDataFlowId",
                   modify({ DataFlowId = "cfs-dataflow-00000000" }))
      assert.equal("InvalidParameterValue.InvalidDataFlowName",
                   modify({ DataFlowName = "a b" }))
      assert.equal("InvalidParameterValue.InvalidDataFlowSourceInfo",
                   modify({ SecretId = "x", SecretKey = "y" }))
    end)
  end)

  describe("DescribeDataFlow", function()
    it("pages with Limit (default 20, max 100) and Offset", function()
      em:settings({ data_flow_limit = 30 })
      for _ = 1, 25 do assert.is_nil(select(2, create())) end
      local r = em:call("DescribeDataFlow", {})
      assert.equal(25, r.Response.TotalCount)
      assert.equal(20, #r.Response.DataFlows)
      r = em:call("DescribeDataFlow", { Offset = 20, Limit = 10 })
      assert.equal(5, #r.Response.DataFlows)
      assert.equal("InvalidParameterValue",
                   code(em:call("DescribeDataFlow", { Limit = 101 })))
      assert.equal("InvalidParameter",
                   code(em:call("DescribeDataFlow", { Limit = -1 })))
    end)

    it("filters by FileSystemId and checks it", function()
      create()
      create({ FileSystemId = "cfs-2a7c9e10" })
      local r = em:call("DescribeDataFlow", { FileSystemId = "cfs-2a7c9e10" })
      assert.equal(1, r.Response.TotalCount)
      assert.equal("ResourceNotFound.FileSystemNotFound",
        code(em:call("DescribeDataFlow", { FileSystemId = "cfs-99999999" })))
      assert.equal("InvalidParameterValue.InvalidFileSystemId",
        code(em:call("DescribeDataFlow", { FileSystemId = "nope" })))
      assert.equal("InvalidParameterValue.InvalidDataFlowId",
        code(em:call("DescribeDataFlow", { DataFlowId = "nope" })))
    end)

    it("shows only the request's region", function()
      create()
      local r = em:call("DescribeDataFlow", {}, { region = "ap-shanghai" })
      assert.equal(0, r.Response.TotalCount)
    end)
  end)

  describe("DescribeCfsFileSystems", function()
    it("lists the configured file systems of the region", function()
      local r = em:call("DescribeCfsFileSystems", {})
      assert.is_nil(code(r))
      assert.equal(2, r.Response.TotalCount)
      local fs = r.Response.FileSystems[1]
      assert.equal("cfs-44d53b63e", fs.FileSystemId)
      assert.equal("available", fs.LifeCycleState)
      r = em:call("DescribeCfsFileSystems", {}, { omit = {
        ["X-TC-Region"] = true } })
      assert.equal(3, r.Response.TotalCount)
    end)
  end)

  describe("state", function()
    it("is shared by all workers", function()
      for _ = 1, 6 do assert.is_string(create().Response.DataFlowId) end
      for _ = 1, 4 do
        local r = em:call("DescribeDataFlow", {})
        assert.equal(6, r.Response.TotalCount)
      end
    end)

    it("is kept across a restart with --state-dir", function()
      local state_dir = os.tmpname()
      os.remove(state_dir)
      local one = emulator.start({ state_dir = state_dir, workers = 1 })
      local id = one:call("CreateDataFlow", params()).Response.DataFlowId
      one:stop()
      local two = emulator.start({ state_dir = state_dir, workers = 1 })
      local flows = two:flows()
      two:stop()
      os.execute("rm -rf '" .. state_dir .. "'")
      assert.equal(1, #flows)
      assert.equal(id, flows[1].DataFlowId)
    end)
  end)
end)
