-- Build, encode and sign one CreateDataFlow request, no network: the
-- library's whole path up to the transport (validation, encoding, signing,
-- headers), and each step alone. Prints microseconds per request.
--   lua5.4 bench/request_build.lua [iterations]     (paths: make -s env)
local cfs = require "cfs"
local core = require "cfs.core"
local validate = require "cfs.validate"
local description = require "cfs.api.actions.CreateDataFlow"

local N = tonumber(arg and arg[1]) or 200000
local clock = os.clock

local PARAMS = {
  FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
  SourceStorageAddress =
    "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com",
  SourcePath = "test3", TargetPath = "/cfs/test11",
  SecretId = "AKIDEXAMPLEEXAMPLE", SecretKey = "bench-cos-secret",
  DataFlowName = "abctest",
}

local client = cfs.new {
  secret_id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
  secret_key = "bench-api-secret", region = "ap-guangzhou",
}

local function per_call(f)
  for _ = 1, N / 10 do f() end   -- warm caches and the JIT
  local start = clock()
  for _ = 1, N do f() end
  return (clock() - start) / N * 1e6
end

local body = assert(core.encode(PARAMS, description.input))
local signer = core.signer()

local steps = {
  { "validate (Lua)", function() validate.check(description, PARAMS) end },
  { "encode (C)", function() core.encode(PARAMS, description.input) end },
  { "sign (C, HMAC chain cached per day)", function()
    signer:sign("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "bench-api-secret",
      1700000000, "cfs", "cfs.tencentcloudapi.com", "application/json", body)
  end },
  { "whole request (validate+encode+sign+headers)", function()
    local b = client:encode("CreateDataFlow", PARAMS)
    client:build_request("CreateDataFlow", b, true)
  end },
}

print(("request_build: %s, %d iterations"):format(
  jit and jit.version or _VERSION, N))
for _, step in ipairs(steps) do
  print(("  %-46s %6.2f us"):format(step[1], per_call(step[2])))
end
