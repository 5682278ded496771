-- A worker for `host threads` and `host states`: makes a client and calls
-- DescribeDataFlow `calls` times, with no pacing and no retries, so each
-- call must succeed at its first attempt. Returns ok_count, first_error.
local cfs = require "cfs"

local here = debug.getinfo(1, "S").source:match "^@(.*/)" or "./"
local settings = dofile(here .. "settings.lua")

return function(_, calls)
  local client = cfs.new(settings.client_options {
    pacer = false, retry = false,
  })
  local ok, first_error = 0, nil
  for _ = 1, calls do
    local res, err = client:describe_data_flow {
      FileSystemId = settings.FILE_SYSTEM, Limit = 10,
    }
    if res and type(res.TotalCount) == "number"
        and type(res.RequestId) == "string" then
      ok = ok + 1
    elseif not first_error then
      first_error = res and "answer without TotalCount" or tostring(err)
    end
  end
  client:close()
  return ok, first_error
end
