--- The default transport: libcurl through cfs.core, blocking.
--
-- A transport is any table with
--   send(self, req) -> status, body, date | nil, code, message, sent
-- where req = { url =, headers = { "Name: value", ... }, body =,
-- idempotent = }; `sent` tells whether the request may have reached the
-- service. Optional: forget_connection(self) after an answer that could
-- not be read, close(self). See cfs.transport.resty for OpenResty.

local core = require "cfs.core"

local curl = {}

local Transport = {}
Transport.__index = Transport

--- opts: ca_file, proxy, timeout, connect_timeout, max_response.
function curl.new(opts)
  return setmetatable({ http = core.http(opts), opts = opts }, Transport)
end

function Transport:send(req)
  return self.http:request(req.url, req.headers, req.body, req.idempotent)
end

function Transport:forget_connection()
  self.http:forget_connection()
end

--- A libcurl multi handle with this transport's options, for batches.
function Transport:multi()
  return core.multi(self.opts)
end

function Transport:close()
  self.http:close()
end

return curl
