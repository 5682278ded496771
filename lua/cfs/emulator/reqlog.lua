-- The request log the admin reads: a ring of the last request_log_size
-- requests in the shared dict. Nothing secret goes in: the body keeps its
-- fields but SecretKey and Password are masked, and so is the token.
local util = require("cfs.emulator.util")
local config = require("cfs.emulator.config")

local dict, json = util.dict, util.json

local M = {}

local MASKED = { SecretKey = true, Password = true }
local MASK = "***"

-- Masks in place: the request's decoded body is logged last, once the
-- action no longer needs it, so no copy is made.
local function mask(t)
  for k, v in pairs(t) do
    if MASKED[k] then
      t[k] = MASK
    elseif type(v) == "table" then
      mask(v)
    end
  end
  return t
end

function M.mask(value)
  if type(value) ~= "table" then return value end
  return mask(value)
end

function M.add(entry)
  if entry.params then
    entry.body = M.mask(entry.params)
    entry.params = nil
  end
  local size = config.raw.request_log_size
  local n = dict:incr("log_seq", 1, 0)
  -- Plain cjson: the admin's answer fixes arrays and slashes on the way out.
  -- A body holding what JSON cannot (1e400 decodes to inf) is logged
  -- without it rather than failing the request.
  local ok, text = pcall(json.encode, entry)
  if not ok then
    entry.body = nil
    ok, text = pcall(json.encode, entry)
  end
  if ok then dict:set("log:" .. (n % size), text) end
end

function M.list()
  local size = config.raw.request_log_size
  local last = dict:get("log_seq") or 0
  local list = {}
  for n = math.max(1, last - size + 1), last do
    local text = dict:get("log:" .. (n % size))
    if text then list[#list + 1] = json.decode(text) end
  end
  return list
end

return M
