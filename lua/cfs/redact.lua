--- Masks secrets in text meant for people: request bodies carry the COS
-- `SecretKey` and the Kafka `Password`, headers carry the session token.

local find, sub = string.find, string.sub

local redact = {}

local MASK = "***"

--- Body fields whose values never leave the process except on the wire.
redact.body_fields = { "SecretKey", "Password" }

-- The index of the quote closing a JSON string that starts after `from`.
local function string_end(text, from)
  local i = from
  while true do
    local q = find(text, '["\\]', i)
    if not q then return nil end
    if sub(text, q, q) == '"' then return q end
    i = q + 2
  end
end

--- `body` with the values of the secret fields replaced by ***.
function redact.body(body)
  for _, field in ipairs(redact.body_fields) do
    local key = '"' .. field .. '":"'
    local from = 1
    while true do
      local s, e = find(body, key, from, true)
      if not s then break end
      local close = string_end(body, e + 1)
      if not close then
        body = sub(body, 1, e) .. MASK .. '"'
        break
      end
      body = sub(body, 1, e) .. MASK .. sub(body, close)
      from = e + #MASK + 2
    end
  end
  return body
end

local SECRET_HEADERS = { ["x-tc-token"] = true }

--- A header line ("Name: value") fit to show.
function redact.header(line)
  local name = line:match "^([^:]+):"
  if name and SECRET_HEADERS[name:lower()] then
    return name .. ": " .. MASK
  end
  return line
end

--- An id shown in part: enough to tell keys apart, not to use one.
function redact.id(id)
  if type(id) ~= "string" or #id < 12 then return MASK end
  return sub(id, 1, 4) .. MASK .. sub(id, -4)
end

return redact
