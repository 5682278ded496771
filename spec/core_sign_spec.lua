-- TC3-HMAC-SHA256 known answers: Tencent's published example and requests
-- signed on the wire by the official Node.js SDK (spec/fixtures/).
local core = require "cfs.core"
local cjson = require "cjson"

local function fixture(name)
  local f = assert(io.open("spec/fixtures/" .. name, "rb"))
  local data = cjson.decode(f:read "*a")
  f:close()
  return data.cases
end

local function sign(signer, c, steps)
  return signer:sign(c.secret_id, c.secret_key, c.timestamp, c.service,
    c.host, c.content_type, c.body, steps)
end

describe("cfs.core signer", function()
  local signer = core.signer()

  for _, c in ipairs(fixture "tc3-official-sdk.json") do
    it("matches the official SDK's Authorization: " .. c.id, function()
      assert.are.equal(c.authorization, sign(signer, c))
    end)
  end

  for _, c in ipairs(fixture "tc3-published.json") do
    it("reproduces every step of the published example " .. c.id, function()
      local authorization, steps = sign(signer, c, true)
      assert.are.equal(c.hashed_request_payload,
        steps.hashed_request_payload)
      assert.are.equal(c.canonical_request, steps.canonical_request)
      assert.are.equal(c.canonical_request_sha256,
        steps.canonical_request_sha256)
      assert.are.equal(c.credential_scope, steps.credential_scope)
      assert.are.equal(c.signature, steps.signature)
      assert.are.equal(c.authorization, authorization)
    end)
  end

  it("returns the steps only when asked for them", function()
    local c = fixture("tc3-official-sdk.json")[1]
    local auth, steps = sign(signer, c)
    assert.are.equal(c.authorization, auth)
    assert.is_nil(steps)
    assert.are.equal(1, select("#", sign(signer, c)))
  end)

  it("hashes the body bytes sent, as the SDK did", function()
    for _, c in ipairs(fixture "tc3-official-sdk.json") do
      local _, steps = sign(signer, c, true)
      assert.are.equal(c.body_sha256, steps.hashed_request_payload)
    end
  end)

  it("takes the date from the UTC day of the timestamp", function()
    assert.are.equal("2019-02-25", core.utc_day(1551113065))
    assert.are.equal("2023-11-14", core.utc_day(1700006399))
    assert.are.equal("2023-11-15", core.utc_day(1700006400))
    assert.are.equal("1970-01-01", core.utc_day(0))
  end)

  it("re-derives the key when the day or the secret key changes", function()
    local cases = fixture "tc3-official-sdk.json"
    local seed, later = cases[1], cases[2]
    -- Same key, two days, then back: the cache must follow each change.
    assert.are.equal(seed.authorization, sign(signer, seed))
    assert.are.equal(later.authorization, sign(signer, later))
    assert.are.equal(seed.authorization, sign(signer, seed))
    local other = setmetatable({ secret_key = "another-key" },
      { __index = seed })
    assert.are_not.equal(seed.authorization, sign(signer, other))
    assert.are.equal(seed.authorization, sign(signer, seed))
  end)

  it("accepts an integral float timestamp and refuses a fraction", function()
    local c = fixture("tc3-official-sdk.json")[1]
    assert.are.equal(c.authorization, signer:sign(c.secret_id, c.secret_key,
      c.timestamp + 0.0, c.service, c.host, c.content_type, c.body))
    assert.has_error(function()
      signer:sign(c.secret_id, c.secret_key, c.timestamp + 0.5, c.service,
        c.host, c.content_type, c.body)
    end)
  end)

  it("refuses a line break in any signed header value", function()
    local c = fixture("tc3-official-sdk.json")[1]
    for _, field in ipairs { "secret_id", "service", "host",
        "content_type" } do
      local bad = setmetatable({ [field] = "x\r\nX-Evil: 1" },
        { __index = c })
      assert.has_error(function() sign(signer, bad) end)
    end
  end)

  it("refuses a timestamp before 1970 or past year 9999", function()
    local c = fixture("tc3-official-sdk.json")[1]
    for _, ts in ipairs { -1, 253402300800 } do
      assert.has_error(function()
        signer:sign(c.secret_id, c.secret_key, ts, c.service, c.host,
          c.content_type, c.body)
      end)
    end
  end)

  it("is unusable after close, and close twice is harmless", function()
    local s = core.signer()
    s:close()
    s:close()
    local c = fixture("tc3-official-sdk.json")[1]
    assert.has_error(function() sign(s, c) end)
  end)
end)
