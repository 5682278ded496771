-- cfs.pace: the token bucket that keeps a client under the documented
-- rate. Regression: calls spaced at exactly 1/rate put rate + 1 calls in
-- one second of the service's clock as soon as one arrived a little late
-- (seen as RequestLimitExceeded from the emulator's per-second counter).
local pace = require("cfs.pace")

-- Start times of n calls made as soon as the pacer allows, on a fake
-- clock.
local function schedule(pacer, now, n, rate)
  local starts = {}
  for i = 1, n do
    local wait = pacer:take("CreateDataFlow", rate)
    now.t = now.t + wait
    starts[i] = now.t
  end
  return starts
end

describe("pace", function()
  it("spaces rate + 1 calls over more than a second and the slack",
    function()
    local now = { t = 1000 }
    local pacer = pace.new({ clock = function() return now.t end })
    local starts = schedule(pacer, now, 200, 20)
    for i = 1, #starts - 20 do
      local span = starts[i + 20] - starts[i]
      assert(span >= 1.05 - 1e-9, ("calls %d..%d span %.4f s"):format(i,
        i + 20, span))
    end
    -- and no slower than needed: 21 calls in 1.05 s.
    assert.near(1.05, starts[21] - starts[1], 1e-9)
  end)

  it("takes the slack as an option; 0 spaces calls at 1/rate", function()
    local now = { t = 0 }
    local pacer = pace.new({ clock = function() return now.t end,
      slack = 0 })
    local starts = schedule(pacer, now, 3, 20)
    assert.near(0.05, starts[2] - starts[1], 1e-12)
    assert.near(0.05, starts[3] - starts[2], 1e-12)
  end)

  it("lets the first call go at once and keeps actions apart", function()
    local now = { t = 5 }
    local pacer = pace.new({ clock = function() return now.t end })
    assert.equal(0, pacer:take("CreateDataFlow", 20))
    assert.equal(0, pacer:take("DescribeDataFlow", 20))
    assert.is_true(pacer:take("CreateDataFlow", 20) > 0.05)
    assert.equal(0, pacer:take("CreateDataFlow", 0))
    assert.equal(0, pace.none:take("CreateDataFlow", 20))
  end)
end)
