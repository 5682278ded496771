-- A data flow's whole life: created, waited for until available, listed,
-- renamed, deleted. Prints each step.
--
--   sh examples/run.sh lifecycle       (starts an emulator, runs, stops it)
--
-- Or by hand, against an emulator through the names it prints:
--   set -a; eval "$(bin/cfs-emulator start)"; set +a
--   lua5.4 examples/lifecycle.lua              (paths: make -s env)
--   bin/cfs-emulator stop --dir "$dir"
-- endpoint, ca_file, secret_id and secret_key come from the environment
-- (else the library's own: CFS_ENDPOINT, CFS_CA_FILE,
-- TENCENTCLOUD_SECRET_ID, ...). CFS_FILE_SYSTEM_ID names the file system
-- (the emulator's cfs-44d53b63e by default); COS_SECRET_ID and
-- COS_SECRET_KEY are the keys the service reads the bucket with.
local cfs = require "cfs"

local client = cfs.new {
  endpoint = os.getenv "endpoint", ca_file = os.getenv "ca_file",
  secret_id = os.getenv "secret_id", secret_key = os.getenv "secret_key",
  region = os.getenv "TENCENTCLOUD_REGION" or "ap-guangzhou",
}
local file_system_id = os.getenv "CFS_FILE_SYSTEM_ID" or "cfs-44d53b63e"

local function check(value, err)
  if value == nil or value == false then
    io.stderr:write(tostring(err), "\n")
    os.exit(1)
  end
  return value
end

local created = check(client:create_data_flow {
  FileSystemId = file_system_id,
  SourceStorageType = "S3_COS",
  SourceStorageAddress =
    "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
  SourcePath = "lifecycle",
  TargetPath = "/cfs/lifecycle",
  SecretId = os.getenv "COS_SECRET_ID" or "AKIDEXAMPLEEXAMPLE",
  SecretKey = os.getenv "COS_SECRET_KEY" or "exampleSecretKeyValue",
  DataFlowName = "lifecycle_demo",
})
local id = created.DataFlowId
print("created:   " .. id .. " (request " .. created.RequestId .. ")")

local flow = check(client:wait_data_flow(id, { timeout = 120 }))
print("available: " .. flow.DataFlowId .. " " .. flow.Status)

local listed = 0
for f, err in client:data_flows { FileSystemId = file_system_id } do
  check(f, err)
  listed = listed + 1
  print(("listed:    %s %s %s %s"):format(f.DataFlowId, f.DataFlowName,
    f.Status, f.TargetPath))
end
print("flows on " .. file_system_id .. ": " .. listed)

check(client:modify_data_flow { DataFlowId = id,
  FileSystemId = file_system_id, DataFlowName = "lifecycle_renamed" })
local described = check(client:describe_data_flow { DataFlowId = id })
print("renamed:   " .. id .. " " .. described.DataFlows[1].DataFlowName)

check(client:delete_data_flow { DataFlowId = id,
  FileSystemId = file_system_id })
local _, gone = client:wait_data_flow(id)
print("deleted:   " .. id .. " (" .. tostring(gone and gone.code) .. ")")
