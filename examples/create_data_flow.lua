-- The seed example: create a data flow, then describe it.
--
-- Keys, region and endpoint come from the environment, as for tccli:
--   TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY, TENCENTCLOUD_REGION,
--   and, to aim at the emulator, CFS_ENDPOINT and CFS_CA_FILE.
-- COS_SECRET_ID and COS_SECRET_KEY are the keys the data-flow service uses
-- to read the bucket (the emulator's example bucket takes any).
local cfs = require "cfs"

local res, err = cfs.create_data_flow {
  FileSystemId = "cfs-44d53b63e",
  SourceStorageType = "S3_COS",
  SourceStorageAddress =
    "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
  SourcePath = "test3",
  TargetPath = "/cfs/test11",
  SecretId = os.getenv "COS_SECRET_ID" or "AKIDEXAMPLEEXAMPLE",
  SecretKey = os.getenv "COS_SECRET_KEY" or "exampleSecretKeyValue",
  DataFlowName = "abctest",
}
if not res then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print("DataFlowId: " .. res.DataFlowId)
print("RequestId:  " .. res.RequestId)

local described, derr = cfs.describe_data_flow { DataFlowId = res.DataFlowId }
if not described then
  io.stderr:write(tostring(derr), "\n")
  os.exit(1)
end
local flow = described.DataFlows[1]
print(("Status:     %s (%s -> %s)"):format(flow.Status,
  flow.SourceStorageAddress .. "/" .. flow.SourcePath, flow.TargetPath))
