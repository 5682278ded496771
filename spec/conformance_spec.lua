-- Conformance with the official SDK: tencentcloud-sdk-nodejs (the version
-- pinned in spec/conformance/package.json, installed by scripts/test.sh)
-- talks to the emulator over verified TLS, and the emulator must judge its
-- requests as the service does: a good signature passes, a changed body, a
-- wrong key and an old timestamp fail with AuthFailure codes.
local cjson = require("cjson")
local emulator = require("spec.helpers.emulator")

local DIR = emulator.ROOT .. "/spec/conformance"
local FLOW_ID = "^cfs%-dataflow%-%x%x%x%x%x%x%x%x$"
local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-"
             .. "%x%x%x%x%x%x%x%x%x%x%x%x$"

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

local function pinned_version()
  local text = read(DIR .. "/package.json")
  assert(text, "spec/conformance/package.json is missing")
  local package = cjson.decode(text)
  return package.dependencies["tencentcloud-sdk-nodejs"]
end

-- The installed SDK's version, or nil when npm install did not run or fail.
local function installed_version()
  local text = read(DIR .. "/node_modules/tencentcloud-sdk-nodejs/"
                    .. "package.json")
  return text and cjson.decode(text).version
end

-- Runs run.js against em; the key goes through the environment, never the
-- command line or the output. Returns the decoded results, or raises with
-- what node printed.
local function run_sdk(em, overrides)
  local env = { CFS_EMULATOR_ENDPOINT = em.endpoint,
    CFS_EMULATOR_CA_FILE = em.ca_file, CFS_SECRET_ID = em.secret_id,
    CFS_SECRET_KEY = em.secret_key }
  for name, value in pairs(overrides or {}) do env[name] = value end
  local parts = {}
  for name, value in pairs(env) do
    parts[#parts + 1] = name .. "=" .. shell_quote(value)
  end
  local errors = os.tmpname()
  local pipe = assert(io.popen("cd " .. shell_quote(DIR) .. " && env -u "
    .. "http_proxy -u https_proxy " .. table.concat(parts, " ")
    .. " node run.js 2>" .. shell_quote(errors)))
  local out = pipe:read("*a")
  pipe:close()
  local stderr = read(errors) or ""
  os.remove(errors)
  local ok, results = pcall(cjson.decode, out)
  assert(ok and type(results) == "table",
         "node run.js printed no results: " .. stderr .. out)
  return results
end

describe("the official Node.js SDK against the emulator", function()
  local em, results

  setup(function()
    local pinned, installed = pinned_version(), installed_version()
    assert(installed == pinned, string.format(
      "tencentcloud-sdk-nodejs %s is not installed in spec/conformance "
      .. "(found %s): npm install failed or did not run; run sh "
      .. "scripts/test.sh, or npm install --no-package-lock there",
      pinned, tostring(installed)))
    em = emulator.start({ workers = 1 })
    results = run_sdk(em)
  end)

  teardown(function()
    if em then em:stop() end
  end)

  it("is the pinned SDK version", function()
    assert.equal(pinned_version(), results.sdk_version)
    assert.equal("4.1.313", results.sdk_version)
  end)

  it("creates a data flow", function()
    assert.is_true(results.create.ok, results.create.message)
    assert.matches(FLOW_ID, results.create.response.DataFlowId)
    assert.matches(UUID, results.create.response.RequestId)
  end)

  it("describes the flow it created", function()
    local id = results.create.response.DataFlowId
    local answer = results.describe.response
    assert.is_true(results.describe.ok, results.describe.message)
    assert.equal(1, answer.TotalCount)
    assert.equal(id, answer.DataFlows[1].DataFlowId)
    assert.equal("conformance", answer.DataFlows[1].DataFlowName)
    assert.equal("/cfs/conformance/", answer.DataFlows[1].TargetPath)
    assert.equal("cfs-44d53b63e", answer.DataFlows[1].FileSystemId)
  end)

  it("modifies the flow's name", function()
    local id = results.create.response.DataFlowId
    assert.is_true(results.modify.ok, results.modify.message)
    assert.equal(id, results.modify.response.DataFlowId)
    local flows = results.describe_modified.response.DataFlows
    assert.equal("conformance-renamed", flows[1].DataFlowName)
  end)

  it("deletes the flow", function()
    assert.is_true(results.delete.ok, results.delete.message)
    assert.matches(UUID, results.delete.response.RequestId)
    local flows = results.describe_deleted.response.DataFlows
    assert.equal("deleting", flows[1].Status)
  end)

  it("refuses a body changed by one byte after signing", function()
    assert.equal(1, results.tampered_body.bytes_changed_in)
    assert.is_false(results.tampered_body.ok)
    assert.equal("AuthFailure.SignatureFailure", results.tampered_body.code)
    assert.matches(UUID, results.tampered_body.request_id)
  end)

  it("refuses a request signed with a wrong secret key", function()
    assert.is_false(results.wrong_secret_key.ok)
    assert.equal("AuthFailure.SignatureFailure",
                 results.wrong_secret_key.code)
  end)

  it("refuses a timestamp ten minutes old", function()
    assert.is_false(results.old_timestamp.ok)
    assert.equal("AuthFailure.SignatureExpire", results.old_timestamp.code)
  end)

  it("logged every SDK request with its code and no secret", function()
    local codes, log = {}, em:requests()
    for _, entry in ipairs(log) do
      codes[#codes + 1] = entry.action .. " " .. entry.code
      if entry.body and entry.body.SecretKey then
        assert.equal("***", entry.body.SecretKey)
      end
    end
    assert.same({ "CreateDataFlow Success", "DescribeDataFlow Success",
      "ModifyDataFlow Success", "DescribeDataFlow Success",
      "DeleteDataFlow Success", "DescribeDataFlow Success",
      "CreateDataFlow AuthFailure.SignatureFailure",
      "CreateDataFlow AuthFailure.SignatureFailure",
      "CreateDataFlow AuthFailure.SignatureExpire" }, codes)
    assert.equal(results.create.response.RequestId, log[1].request_id)
  end)

  it("does not trust a certificate from another CA", function()
    local other = emulator.start({ workers = 1 })
    local ok, foreign = pcall(run_sdk, em,
                              { CFS_EMULATOR_CA_FILE = other.ca_file })
    other:stop()
    assert(ok, foreign)
    assert.is_false(foreign.create.ok)
    assert.equal(cjson.null, foreign.create.code)
    assert.matches("certificate", foreign.create.message)
  end)
end)
