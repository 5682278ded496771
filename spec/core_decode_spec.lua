-- Answers: success, the service's errors, and everything that is not an
-- API answer.
local core = require "cfs.core"

local function refusal(status, body)
  local res, code, message, request_id = core.decode(status, body)
  assert.is_nil(res)
  return code, message, request_id
end

describe("cfs.core.decode", function()
  it("returns the Response table of a success", function()
    local res = core.decode(200, '{"Response":{"DataFlowId":'
      .. '"cfs-dataflow-4f827203","RequestId":"c5369436-aaaa"}}')
    assert.are.equal("cfs-dataflow-4f827203", res.DataFlowId)
    assert.are.equal("c5369436-aaaa", res.RequestId)
  end)

  it("gives whole numbers back as integers where Lua has them", function()
    local res = core.decode(200, '{"Response":{"TotalCount":4,'
      .. '"Sizes":[1,2.5],"RequestId":"r"}}')
    assert.are.equal(4, res.TotalCount)
    assert.are.equal(2.5, res.Sizes[2])
    if math.type then
      assert.are.equal("integer", math.type(res.TotalCount))
      assert.are.equal("integer", math.type(res.Sizes[1]))
      assert.are.equal("float", math.type(res.Sizes[2]))
    end
  end)

  it("returns the service's code, message and RequestId", function()
    local code, message, request_id = refusal(200, '{"Response":{"Error":'
      .. '{"Code":"ResourceNotFound.FileSystemNotFound","Message":"no fs"},'
      .. '"RequestId":"r-1"}}')
    assert.are.equal("ResourceNotFound.FileSystemNotFound", code)
    assert.are.equal("no fs", message)
    assert.are.equal("r-1", request_id)
  end)

  local broken = {
    { "a 502 HTML page", 502, "<html><body>Bad Gateway</body></html>" },
    { "HTML with status 200", 200, "<html>hi</html>" },
    { "an empty body", 200, "" },
    { "truncated JSON", 200, '{"Response":{"DataFlowId":"cfs-da' },
    { "no RequestId", 200, '{"Response":{"DataFlowId":"x"}}' },
    { "null Response", 200, '{"Response":null}' },
    { "an array", 200, '[1,2]' },
    { "a string Error", 200, '{"Response":{"Error":"x","RequestId":"r"}}' },
    { "an Error without Code", 200,
      '{"Response":{"Error":{"Message":"m"},"RequestId":"r"}}' },
    { "a byte order mark", 200,
      '\239\187\191{"Response":{"RequestId":"r"}}' },
    { "invalid UTF-8", 200, '{"Response":{"RequestId":"\255"}}' },
    { "NaN", 200, '{"Response":{"RequestId":"r","X":NaN}}' },
    { "JSON nested 100,000 deep", 200,
      '{"Response":' .. string.rep("[", 100000)
        .. string.rep("]", 100000) .. "}" },
  }
  for _, case in ipairs(broken) do
    it("turns " .. case[1] .. " into InvalidResponse", function()
      local code, message = refusal(case[2], case[3])
      assert.are.equal("InvalidResponse", code)
      assert.is_string(message)
      assert.is_true(#message < 200)
    end)
  end

  it("says the HTTP status of a non-200 answer", function()
    local _, message = refusal(502, "<html>Bad Gateway</html>")
    assert.truthy(message:find("HTTP status 502", 1, true))
  end)

  it("keeps a RequestId when the Error is malformed", function()
    local _, _, request_id = refusal(200,
      '{"Response":{"Error":{"Message":"m"},"RequestId":"r-9"}}')
    assert.are.equal("r-9", request_id)
  end)

  it("uses its own cjson settings, not the global instance's", function()
    local cjson = require "cjson"
    cjson.decode_invalid_numbers(true)
    local code = refusal(200, '{"Response":{"RequestId":"r","X":NaN}}')
    assert.are.equal("InvalidResponse", code)
    cjson.decode_invalid_numbers(true)
  end)
end)
