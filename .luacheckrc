-- luacheck over lua/ bin/ spec/ bench/ examples/ (scripts/suites/lint.sh).
std = "max"
max_line_length = 100
codes = true
-- A method need not use self.
self = false

-- The generated lua/cfs/api/ is checked too: gen_api.lua writes it clean.
exclude_files = { "build/**", "spec/conformance/node_modules/**" }

-- `not (x <= y)` is how NaN is caught on purpose (retry, transport).
ignore = { "581" }

-- OpenResty: the emulator and the resty transport run inside nginx.
files["lua/cfs/emulator/**"] = { read_globals = { "ngx" },
  globals = { "ngx.status", "ngx.header", "ngx.ctx" },
  -- Action handlers share one signature: (req, params).
  ignore = { "212/req" } }
files["lua/cfs/transport/resty.lua"] = { read_globals = { "ngx" } }
files["examples/openresty/**"] = { read_globals = { "ngx" },
  globals = { "ngx.status", "ngx.header", "ngx.ctx" } }
-- These look for ngx to tell whether they run under OpenResty.
files["lua/cfs/client.lua"] = { read_globals = { "ngx" } }
files["lua/cfs/pace_shared.lua"] = { read_globals = { "ngx" } }
files["lua/cfs/credentials/**"] = { read_globals = { "ngx" } }
files["lua/cfs/batch.lua"] = { read_globals = { "ngx" } }

files["spec/**"] = { std = "+busted" }
