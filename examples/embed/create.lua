-- Creates a data flow on the emulator and prints its DataFlowId.
--   host run examples/embed/create.lua [NAME]
-- with endpoint, ca_file, secret_id and secret_key in the environment.
local cfs = require "cfs"

local here = debug.getinfo(1, "S").source:match "^@(.*/)" or "./"
local settings = dofile(here .. "settings.lua")

local opts = settings.client_options()
local client = cfs.new(opts)
local res, err = client:create_data_flow {
  FileSystemId = "cfs-44d53b63e",
  SourceStorageType = "S3_COS",
  SourceStorageAddress = settings.BUCKET,
  SourcePath = "test3",
  TargetPath = "/cfs/test3/",
  -- The emulator's documentation bucket lets any COS keys read it.
  SecretId = opts.secret_id,
  SecretKey = opts.secret_key,
  DataFlowName = arg[1] or "embedded-host",
}
client:close()
if not res then
  io.stderr:write("create.lua: ", tostring(err), "\n")
  os.exit(1)
end
print("DataFlowId=" .. res.DataFlowId)
