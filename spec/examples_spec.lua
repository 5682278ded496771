-- The README's demo command and the seed example, run as a user runs them.
describe("the demo", function()
  it("prints a DataFlowId the emulator issued, then describes it", function()
    local pipe = assert(io.popen("sh scripts/demo.sh 2>&1"))
    local out = pipe:read "*a"
    local ok = pipe:close()
    assert.is_truthy(ok, out)
    local id = out:match "DataFlowId: (cfs%-dataflow%-%x+)"
    assert.is_string(id, out)
    assert.truthy(out:find("Status:     pending", 1, true), out)
    assert.truthy(out:find("/cfs/test11/", 1, true), out)
  end)
end)
