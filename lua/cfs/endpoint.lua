--- Endpoints: a host or an http(s) URL, checked the same way wherever
-- the library sends requests (the client, STS).

local find, match, lower = string.find, string.match, string.lower
local tonumber = tonumber

local endpoint = {}

--- Whether a host (with or without a port) is on loopback.
function endpoint.is_loopback(host)
  local name = match(host, "^%[([^%]]+)%]") or match(host, "^([^:]+)")
  return name == "localhost" or name == "::1"
    or find(name or "", "^127%.%d+%.%d+%.%d+$") ~= nil
end

--- Splits `text` into the URL to send to and the Host header:
-- `url, host`, or nil and why it is refused. Plain http is allowed only
-- on loopback unless `insecure_http`.
function endpoint.parse(text, insecure_http)
  if find(text, "[%c%s\127]") then
    return nil, "endpoint holds a space or control character"
  end
  -- Never echoed: user information would be a password.
  if find(text, "@", 1, true) then
    return nil, "endpoint must not hold user information (user:password@)"
  end
  local scheme, rest = match(text, "^(%a[%w+.-]*)://(.*)$")
  scheme = scheme and lower(scheme) or "https"
  rest = rest or text
  local host, path = match(rest, "^([^/?#]+)(.*)$")
  if not host or (path ~= "" and path ~= "/") then
    return nil, "endpoint must be a host or a URL with no path, got '"
      .. text .. "'"
  end
  local name, port = match(host, "^(%[[%x:%.]+%])(.*)$")
  if not name then name, port = match(host, "^([%w%.%-]+)(.*)$") end
  if not name or not (port == "" or match(port, "^:%d+$"))
      or (port ~= "" and not (tonumber(port:sub(2)) >= 1
        and tonumber(port:sub(2)) <= 65535)) then
    return nil, "endpoint must be a host name or address with an "
      .. "optional port 1-65535, got '" .. host .. "'"
  end
  if scheme ~= "https" and scheme ~= "http" then
    return nil, "endpoint scheme must be https (or http on loopback)"
  end
  if scheme == "http" and not endpoint.is_loopback(host)
      and not insecure_http then
    return nil, "plain http is refused for '" .. host .. "' (not "
      .. "loopback); set insecure_http = true to allow it"
  end
  return scheme .. "://" .. host .. "/", host
end

return endpoint
