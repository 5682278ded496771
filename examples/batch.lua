-- Creates a batch of data flows at once and prints a summary.
--
-- Aimed at an emulator through the names `bin/cfs-emulator start` prints:
--   set -a; eval "$(bin/cfs-emulator start)"; set +a
--   lua5.4 examples/batch.lua [count]          (paths: make -s env)
--   bin/cfs-emulator stop --dir "$dir"
-- endpoint, ca_file, secret_id and secret_key come from the environment
-- (else the library's own: CFS_ENDPOINT, TENCENTCLOUD_SECRET_ID, ...).
-- The emulator allows 10 flows per file system by default: the calls are
-- spread over its two file systems in ap-guangzhou.
local cfs = require "cfs"

local count = tonumber(arg and arg[1]) or 12
local FILE_SYSTEMS = { "cfs-44d53b63e", "cfs-2a7c9e10" }

local client = cfs.new {
  endpoint = os.getenv "endpoint", ca_file = os.getenv "ca_file",
  secret_id = os.getenv "secret_id", secret_key = os.getenv "secret_key",
  region = os.getenv "TENCENTCLOUD_REGION" or "ap-guangzhou",
}

local list = {}
for i = 1, count do
  list[i] = {
    FileSystemId = FILE_SYSTEMS[(i - 1) % #FILE_SYSTEMS + 1],
    SourceStorageType = "S3_COS",
    SourceStorageAddress =
      "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
    SourcePath = "/batch/" .. i .. "/",
    TargetPath = "/cfs/batch" .. i .. "/",
    SecretId = os.getenv "COS_SECRET_ID" or "AKIDEXAMPLEEXAMPLE",
    SecretKey = os.getenv "COS_SECRET_KEY" or "exampleSecretKeyValue",
    DataFlowName = "batch" .. i,
  }
end

local results, summary = client:create_data_flows(list, {
  concurrency = 4,
  deadline = 120,
  progress = function(done, failed, total)
    io.stderr:write(("\r%d/%d done, %d failed"):format(done, total, failed))
  end,
})
io.stderr:write "\n"

for i, r in ipairs(results) do
  if r.ok then
    print(("%3d  %s  (request %s)"):format(i, r.value.DataFlowId,
      r.value.RequestId))
  else
    print(("%3d  %s"):format(i, tostring(r.err)))
  end
end
print(("succeeded %d, failed %d, attempts %d, %.2f s"):format(
  summary.succeeded, summary.failed, summary.attempts, summary.elapsed))
for code, n in pairs(summary.by_code) do
  print(("  %s: %d"):format(code, n))
end
client:close()
os.exit(summary.failed == 0 and 0 or 1)
