-- Small things every part of the emulator uses: the shared dict, the
-- emulator's clock, request ids and JSON with empty arrays kept as arrays.
local cjson = require("cjson.safe")
local ffi = require("ffi")

local M = {}

M.dict = ngx.shared.cfs_emulator
M.json = cjson.new()
M.json.decode_invalid_numbers(false)
M.json.encode_invalid_numbers(false)
M.json.decode_max_depth(64)

-- This lua-cjson writes {} for every empty table, so an empty array is
-- marked with a sentinel that encode() turns into [] afterwards.
M.EMPTY_ARRAY = setmetatable({}, { __tostring = function() return "[]" end })
local SENTINEL = "\1cfs-empty-array\1"
local SENTINEL_PATTERN = ('"\\u0001cfs-empty-array\\u0001"')
  :gsub("%p", "%%%0")

-- Returns whether the table held an empty array (so the text needs fixing).
local function mark_empty_arrays(t)
  local marked = false
  for k, v in pairs(t) do
    if v == M.EMPTY_ARRAY then
      t[k], marked = SENTINEL, true
    elseif type(v) == "table" then
      marked = mark_empty_arrays(v) or marked
    end
  end
  return marked
end

function M.encode(value)
  if value == M.EMPTY_ARRAY then return "[]" end
  local marked = type(value) == "table" and mark_empty_arrays(value)
  local text = assert(M.json.encode(value))
  if marked then text = text:gsub(SENTINEL_PATTERN, "[]") end
  -- lua-cjson writes "/" as "\/"; the service does not. An escaped
  -- backslash before a slash ("\\\/") still comes out right.
  if text:find("\\/", 1, true) then text = text:gsub("\\/", "/") end
  return text
end

-- Settings and faults live in the shared dict (any worker's admin request
-- may change them); each worker keeps copies, reloaded when
-- settings_version moves, so a request reads one key to know they hold.
local settings, settings_version = {}, nil

-- The version the worker's copies are at (nil: reload every time).
function M.settings_version()
  return settings_version
end

function M.refresh_settings()
  local version = M.dict:get("settings_version")
  if version == settings_version and version ~= nil then return end
  settings_version = version
  settings = {}
  for _, name in ipairs(M.SETTING_NAMES) do
    settings[name] = M.dict:get("setting:" .. name)
  end
end

function M.setting(name)
  return settings[name]
end

-- Tells every worker to reload settings and faults. A fresh value, not a
-- counter: a reset must not bring an old one back.
function M.changed()
  M.dict:set("settings_version", M.uuid())
end

function M.set_setting(name, value)
  M.dict:set("setting:" .. name, value)
  M.changed()
end

M.SETTING_NAMES = { "rate_limit", "pending_seconds", "data_flow_limit",
                    "clock_offset", "timestamp_window", "sts_duration" }

-- The emulator's clock: the real one moved by the clock_offset setting and
-- by a clock_offset fault taken by the request (extra).
function M.now(extra)
  return ngx.now() + (settings.clock_offset or 0) + (extra or 0)
end

local random, tohex = math.random, bit.tohex

-- A version 4 UUID; bit.tohex, unlike string.format, compiles.
function M.uuid()
  return tohex(random(0, 0xffffffff), 8) .. "-" .. tohex(random(0, 0xffff), 4)
    .. "-4" .. tohex(random(0, 0xfff), 3) .. "-"
    .. tohex(0x8000 + random(0, 0x3fff), 4) .. "-"
    .. tohex(random(0, 0xffffff), 6) .. tohex(random(0, 0xffffff), 6)
end

function M.seed()
  math.randomseed(ngx.worker.pid() * 1000003 + math.floor(ngx.now() * 1000))
end

function M.read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("*a")
  f:close()
  return text
end

function M.write_file_atomic(path, text)
  local tmp = path .. ".tmp" .. ngx.worker.pid()
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  f:write(text)
  f:close()
  return os.rename(tmp, path)
end

-- Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
local function ascii_only(s)
  local bytes = ffi.cast("const uint8_t *", s)
  for i = 0, #s - 1 do
    if bytes[i] >= 0x80 then return false end
  end
  return true
end

function M.valid_utf8(s)
  if ascii_only(s) then return true end
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    if c < 0x80 then
      i = i + 1
    else
      local len, min
      if c >= 0xC2 and c <= 0xDF then len, min = 2, 0x80
      elseif c >= 0xE0 and c <= 0xEF then len, min = 3, 0x800
      elseif c >= 0xF0 and c <= 0xF4 then len, min = 4, 0x10000
      else return false end
      local cp = c % (2 ^ (7 - len))
      for j = i + 1, i + len - 1 do
        local b = s:byte(j)
        if not b or b < 0x80 or b > 0xBF then return false end
        cp = cp * 64 + b % 64
      end
      if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then
        return false
      end
      i = i + len
    end
  end
  return true
end

-- The code point at byte i of a valid UTF-8 string, and its length.
function M.char_at(s, i)
  local c = s:byte(i)
  if c < 0x80 then return c, 1 end
  local len = c < 0xE0 and 2 or c < 0xF0 and 3 or 4
  local cp = bit.band(c, bit.rshift(0x7F, len))
  for j = i + 1, i + len - 1 do
    cp = cp * 64 + bit.band(s:byte(j), 0x3F)
  end
  return cp, len
end

return M
