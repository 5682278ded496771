-- The worker of `host quiet`: calls that meet connections closed by the
-- emulator. Before it runs, the emulator must hold these faults, in order:
--   close_before, count 1, action DescribeDataFlow
--   close_after,  count 1, action DescribeDataFlow
--   close_before, count 8, action CreateDataFlow
-- The host captures the process's stdout and stderr meanwhile and keeps
-- SIGPIPE deadly. Returns 1 and a summary when every call ended as
-- expected, else 0 and what went wrong.
local cfs = require "cfs"
local core = require "cfs.core"

local here = debug.getinfo(1, "S").source:match "^@(.*/)" or "./"
local settings = dofile(here .. "settings.lua")

local DESCRIBE = { FileSystemId = settings.FILE_SYSTEM, Limit = 10 }
-- Far more than the socket buffers take, so the emulator closes the
-- connection while the library is still writing to it.
local UPLOAD_BYTES = 8 * 1024 * 1024
-- Whether a write meets the reset connection (EPIPE, where SIGPIPE would
-- come) or learns of the reset first (ECONNRESET) is down to timing, about
-- even odds; eight tries make at least one EPIPE all but certain.
local UPLOADS = 8

-- A request the emulator drops unread: the write meets a reset socket.
local function upload(opts)
  local http = core.http { ca_file = opts.ca_file }
  local status, code, message = http:request(opts.endpoint .. "/", {
    "Content-Type: application/json", "X-TC-Action: CreateDataFlow",
    "Expect:",
  }, string.rep(" ", UPLOAD_BYTES), false)
  http:close()
  if status then return nil, "upload answered with HTTP " .. status end
  return code .. " (" .. message .. ")"
end

return function()
  local opts = settings.client_options { pacer = false, retry = false }
  local client = cfs.new(opts)
  local seen = {}
  for _, fault in ipairs { "close_before", "close_after" } do
    local res, err = client:describe_data_flow(DESCRIBE)
    if res or err.code ~= "NetworkError" then
      return 0, fault .. ": expected NetworkError, got "
        .. (res and "an answer" or tostring(err.code))
    end
    seen[#seen + 1] = fault .. ": " .. err.code
  end
  local outcomes = {}
  for _ = 1, UPLOADS do
    local outcome, why = upload(opts)
    if not outcome then return 0, why end
    outcomes[outcome] = (outcomes[outcome] or 0) + 1
  end
  for outcome, count in pairs(outcomes) do
    seen[#seen + 1] = "upload: " .. count .. "x " .. outcome
  end
  local res, err = client:describe_data_flow(DESCRIBE)
  if not res then return 0, "after the faults: " .. tostring(err) end
  seen[#seen + 1] = "then: Success"
  client:close()
  return 1, table.concat(seen, "; ")
end
