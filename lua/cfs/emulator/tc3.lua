-- TC3-HMAC-SHA256 as the service checks it: parse the Authorization header,
-- rebuild the canonical request from what was received, recompute.
-- Plain LuaJIT (no ngx), so a spec can run it against the published vectors.
local crypto = require("cfs.emulator.crypto")

local hmac, sha256_hex, to_hex = crypto.hmac_sha256, crypto.sha256_hex,
                                 crypto.to_hex
local hmac_padded = crypto.hmac_sha256_padded

local M = {}

local ALGORITHM = "TC3-HMAC-SHA256"

-- Returns the parts of the header, or nil when it is not TC3's shape.
function M.parse_authorization(value)
  local secret_id, date, service, signed, signature = value:match(
    "^TC3%-HMAC%-SHA256 Credential=([^/,%s]+)/(%d%d%d%d%-%d%d%-%d%d)/"
    .. "([%w%-]+)/tc3_request, SignedHeaders=([%w%-;]+), "
    .. "Signature=(%x+)$")
  if not secret_id or #signature ~= 64 then return nil end
  local names, from = {}, 1
  while from <= #signed do
    local semicolon = signed:find(";", from, true) or #signed + 1
    if semicolon > from then
      names[#names + 1] = signed:sub(from, semicolon - 1)
    end
    from = semicolon + 1
  end
  return { secret_id = secret_id, date = date, service = service,
           signed_headers = signed, names = names, signature = signature }
end

-- os.date costs a system call or two (glibc's tzset): keep the last day.
local last_day, last_date

function M.utc_date(timestamp)
  local day = math.floor(timestamp / 86400)
  if day ~= last_day then
    last_day, last_date = day, os.date("!%Y-%m-%d", day * 86400)
  end
  return last_date
end

local SPACE, TAB = 32, 9

-- Values are seldom padded: test the ends before running patterns.
local function trim(s)
  local first, last = s:byte(1), s:byte(-1)
  if first ~= SPACE and first ~= TAB and last ~= SPACE and last ~= TAB then
    return s
  end
  return (s:gsub("^[ \t]+", ""):gsub("[ \t]+$", ""))
end

local lines = {}

-- headers: lower-cased name -> value as received. lower_values signs values
-- lower-cased, as the current documentation's example does.
function M.canonical_request(method, headers, names, signed, payload_hash,
                             lower_values)
  local n = #names
  for i = 1, n do
    local name = names[i]
    local value = trim(headers[name] or "")
    if lower_values then value = value:lower() end
    lines[i] = name .. ":" .. value .. "\n"
  end
  for i = n + 1, #lines do lines[i] = nil end
  return method .. "\n/\n\n" .. table.concat(lines) .. "\n" .. signed
         .. "\n" .. payload_hash
end

-- Derived keys depend only on (secret key, date, service): cache them.
local signing_keys, cached = {}, 0

local function signing_key(secret_key, date, service)
  local id = secret_key .. "\0" .. date .. "\0" .. service
  local key = signing_keys[id]
  if key then return key end
  key = crypto.hmac_key(hmac(hmac(hmac("TC3" .. secret_key, date), service),
                               "tc3_request"))
  if cached > 1000 then signing_keys, cached = {}, 0 end
  signing_keys[id], cached = key, cached + 1
  return key
end

function M.string_to_sign(timestamp, scope, canonical)
  return ALGORITHM .. "\n" .. timestamp .. "\n" .. scope .. "\n"
         .. sha256_hex(canonical)
end

function M.signature(secret_key, timestamp, date, service, canonical)
  local scope = date .. "/" .. service .. "/tc3_request"
  local key = signing_key(secret_key, date, service)
  return to_hex(hmac_padded(key, M.string_to_sign(timestamp, scope,
                                                   canonical)))
end

function M.authorization(secret_id, secret_key, timestamp, service, names,
                         headers, payload_hash)
  local date = M.utc_date(timestamp)
  local signed = table.concat(names, ";")
  local canonical = M.canonical_request("POST", headers, names, signed,
                                        payload_hash)
  return string.format("%s Credential=%s/%s/%s/tc3_request, "
    .. "SignedHeaders=%s, Signature=%s", ALGORITHM, secret_id, date, service,
    signed, M.signature(secret_key, timestamp, date, service, canonical))
end

-- Compares in time independent of where the first difference is.
function M.same(a, b)
  if #a ~= #b then return false end
  local diff = 0
  for i = 1, #a do
    if a:byte(i) ~= b:byte(i) then diff = diff + 1 end
  end
  return diff == 0
end

M.sha256_hex = sha256_hex

return M
