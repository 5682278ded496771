--- The error object every call returns as its second value.
--
-- Fields: `code` (the service's code, such as
-- `ResourceNotFound.FileSystemNotFound`, or one of the library's own listed
-- in `errors.codes`), `message`, `request_id` (when the service answered),
-- `http_status`, `retryable`, `attempts`, `field` (the parameter at fault,
-- for bad input) and `outcome` (`"unknown"` when a call that changes state
-- may or may not have been carried out).
--
-- `tostring(err)` and `"text" .. err` give one readable line.
-- @module cfs.errors
-- @usage
-- local cfs = require "cfs"
-- local res, err = cfs.new():describe_data_flow { Limit = 1000 }
-- assert(res == nil and err.code == "InvalidParameterValue")
-- print("failed: " .. err)

local setmetatable, tostring, type = setmetatable, tostring, type
local find, format = string.find, string.format

local errors = {}

--- The library's own codes, beside the service's: code -> meaning.
-- @table codes
errors.codes = {
  ConnectError = "the connection could not be made (refused or DNS)",
  ConnectTimeout = "the connection was not made within connect_timeout",
  TLSError = "the TLS handshake failed",
  CertificateError = "the service's certificate could not be verified",
  Timeout = "no answer within timeout; the request was sent",
  NetworkError = "the connection broke after the request was sent",
  ResponseTooLarge = "the answer was larger than max_response",
  InvalidResponse = "the answer was not a Tencent Cloud API answer",
  InvalidCredentials = "no usable credentials were found",
  InvalidOption = "a client option is wrong",
  DeadlineExceeded = "the batch's deadline passed before this call ran",
  CallbackError = "a user callback raised an error",
  UnsupportedPhase = "called from an nginx phase where cosockets cannot run",
  DataFlowUnavailable = "the data flow waited for became unavailable",
  DataFlowNotFound = "the data flow waited for is gone or being deleted",
  WaitTimeout = "the data flow was not available within the wait's timeout",
}

local Error = {}
Error.__index = Error

function Error.__tostring(e)
  local text = "cfs: " .. (e.action and (e.action .. ": ") or "")
    .. tostring(e.code) .. ": " .. tostring(e.message)
  if e.request_id then
    text = text .. " (request " .. e.request_id .. ")"
  end
  if e.attempts and e.attempts > 1 then
    text = text .. format(" after %d attempts", e.attempts)
  end
  return text
end

function Error.__concat(a, b)
  return tostring(a) .. tostring(b)
end

--- Makes an error object from a table of its fields.
-- @tab fields `code`, `message` and any of the fields above
-- @treturn cfs.errors the same table, `retryable` false unless given
-- @usage
-- local errors = require "cfs.errors"
-- local err = errors.new { code = "Timeout", message = "no answer" }
-- assert(tostring(err) == "cfs: Timeout: no answer")
function errors.new(fields)
  fields.retryable = fields.retryable or false
  return setmetatable(fields, Error)
end

--- Whether `value` is an error object of this library.
-- @param value anything
-- @treturn bool
-- @usage
-- local errors = require "cfs.errors"
-- assert(errors.is(errors.new { code = "x" }) and not errors.is("x"))
function errors.is(value)
  return type(value) == "table" and getmetatable(value) == Error
end

-- Codes that prove the request never reached the service.
local NOT_SENT = {
  ConnectError = true, ConnectTimeout = true, TLSError = true,
}

-- Codes after which the request may have been acted on.
local MAYBE_ACTED = {
  Timeout = true, NetworkError = true, InvalidResponse = true,
  ResponseTooLarge = true,
}

--- Whether a failed call is worth sending again.
-- `mutates` is whether the action changes state: those are never sent
-- twice blindly after a failure that may have come after the service acted.
-- @string code the error's code
-- @bool mutates whether the action changes state
-- @treturn bool
-- @usage
-- local errors = require "cfs.errors"
-- assert(errors.retryable("RequestLimitExceeded", true))
-- assert(errors.retryable("Timeout", false))
-- assert(not errors.retryable("Timeout", true))
function errors.retryable(code, mutates)
  if find(code, "^RequestLimitExceeded") or code == "ServiceUnavailable"
      or NOT_SENT[code] then
    return true
  end
  if mutates then
    return false
  end
  return MAYBE_ACTED[code] == true or find(code, "^InternalError") ~= nil
end

--- Whether a failed call of an action that changes state may have acted.
-- @string code the error's code
-- @treturn bool
-- @usage
-- local errors = require "cfs.errors"
-- assert(errors.maybe_acted("NetworkError"))
-- assert(not errors.maybe_acted("ConnectError"))
function errors.maybe_acted(code)
  return MAYBE_ACTED[code] == true or find(code, "^InternalError") ~= nil
end

return errors
