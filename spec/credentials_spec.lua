-- Credential providers: environment, profile file, functions, chains, the
-- CVM role (against a loopback metadata service), STS AssumeRole and
-- AssumeRoleWithWebIdentity (against the emulator), and what they show.
local emulator = require("spec.helpers.emulator")
local metadata = require("spec.helpers.metadata")
local socket = require("socket")

local ROLE_ARN = "qcs::cam::uin/100000000001:roleName/cfs-emulator-role"
local WEB_TOKEN = "cfs-emulator-web-identity-token"

local MODULES = { "cfs.credentials", "cfs.credentials.sts" }

-- Runs fn(credentials) with os.getenv answering only from `vars`; the
-- modules are loaded afresh so they read the fake environment.
local function with_env(vars, fn)
  local real = os.getenv
  os.getenv = function(name) return vars[name] end -- luacheck: ignore 122
  for _, m in ipairs(MODULES) do package.loaded[m] = nil end
  local ok, err = pcall(fn, require("cfs.credentials"))
  os.getenv = real -- luacheck: ignore 122
  for _, m in ipairs(MODULES) do package.loaded[m] = nil end
  if not ok then error(err, 0) end
end

local function write_temp(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

-- Every text a provider showed must be free of each secret.
local function assert_no_secret(texts, secrets)
  for _, text in ipairs(texts) do
    for _, secret in ipairs(secrets) do
      assert.is_nil(text:find(secret, 1, true),
        "a secret shows in: " .. text)
    end
  end
end

describe("credentials.env", function()
  it("reads the id, key and optional session token", function()
    with_env({ TENCENTCLOUD_SECRET_ID = "AKIDenv1",
      TENCENTCLOUD_SECRET_KEY = "env-key-1",
      TENCENTCLOUD_SESSION_TOKEN = "env-token-1" }, function(credentials)
      local ok, id, key, token, expiry = credentials.env():get()
      assert.are.same({ true, "AKIDenv1", "env-key-1", "env-token-1" },
        { ok, id, key, token })
      assert.is_nil(expiry)
    end)
    with_env({ TENCENTCLOUD_SECRET_ID = "AKIDenv2",
      TENCENTCLOUD_SECRET_KEY = "env-key-2",
      TENCENTCLOUD_SESSION_TOKEN = "" }, function(credentials)
      local _, _, _, token = credentials.env():get()
      assert.is_nil(token)
    end)
  end)

  it("answers nil, err naming the variables when one is missing", function()
    with_env({ TENCENTCLOUD_SECRET_KEY = "env-key-3" }, function(credentials)
      local ok, err = credentials.env():get()
      assert.is_nil(ok)
      assert.are.equal("InvalidCredentials", err.code)
      assert.truthy(err.message:find("TENCENTCLOUD_SECRET_ID", 1, true))
      assert_no_secret({ tostring(err) }, { "env-key-3" })
    end)
  end)
end)

describe("credentials.profile", function()
  local path
  before_each(function()
    path = write_temp("# comment\n[default]\nsecret_id = AKIDprof0\n"
      .. "secret_key = prof-key-0\n\n[ci]\n  secret_id=AKIDprof1\n"
      .. "secret_key =  prof-key-1 \ntoken = prof-token-1\n"
      .. "[half]\nsecret_id = AKIDhalf\n")
  end)
  after_each(function() os.remove(path) end)

  it("reads [default] from TENCENTCLOUD_CREDENTIALS_FILE", function()
    with_env({ TENCENTCLOUD_CREDENTIALS_FILE = path }, function(credentials)
      assert.are.same({ true, "AKIDprof0", "prof-key-0" },
        { credentials.profile():get() })
    end)
  end)

  it("reads a named section, with its token", function()
    with_env({ TENCENTCLOUD_CREDENTIALS_FILE = path }, function(credentials)
      assert.are.same({ true, "AKIDprof1", "prof-key-1", "prof-token-1" },
        { credentials.profile({ profile = "ci" }):get() })
    end)
  end)

  it("prefers opts.file to the variable", function()
    local other = write_temp("[default]\nsecret_id = AKIDfile\n"
      .. "secret_key = file-key\n")
    with_env({ TENCENTCLOUD_CREDENTIALS_FILE = path }, function(credentials)
      assert.are.same({ true, "AKIDfile", "file-key" },
        { credentials.profile({ file = other }):get() })
    end)
    os.remove(other)
  end)

  it("says which section is missing or incomplete", function()
    with_env({ TENCENTCLOUD_CREDENTIALS_FILE = path }, function(credentials)
      local ok, err = credentials.profile({ profile = "nope" }):get()
      assert.is_nil(ok)
      assert.truthy(err.message:find("no [nope] section", 1, true))
      ok, err = credentials.profile({ profile = "half" }):get()
      assert.is_nil(ok)
      assert.truthy(err.message:find("lacks secret_id or secret_key", 1,
        true))
      assert_no_secret({ tostring(err) }, { "prof-key-0", "prof-key-1" })
    end)
  end)
end)

describe("credentials from functions and chains", function()
  local credentials = require("cfs.credentials")

  it("takes a user's function returning true, id, key, token, expiry",
    function()
      local chain = credentials.chain { function()
        return true, "AKIDfn", "fn-key", "fn-token", 2000000000
      end }
      assert.are.same({ true, "AKIDfn", "fn-key", "fn-token", 2000000000 },
        { chain:get() })
    end)

  it("refuses a function that puts the key where ok belongs", function()
    local chain = credentials.chain { function()
      return "AKIDshape", "shape-key"
    end }
    local ok, err = chain:get()
    assert.is_nil(ok)
    assert.are.equal("InvalidCredentials", err.code)
    assert_no_secret({ tostring(err), tostring(chain) }, { "shape-key" })
  end)

  it("takes the first provider that answers and lists why others failed",
    function()
      local chain = credentials.chain {
        function() return nil, "first has none" end,
        credentials.static("AKIDsecond", "second-key"),
        function() error("never reached") end,
      }
      assert.are.same({ true, "AKIDsecond", "second-key" }, { chain:get() })
      local ok, err = credentials.chain {
        function() return nil, "first has none" end,
        function() return false, "second has none" end,
      }:get()
      assert.is_nil(ok)
      assert.truthy(err.message:find("first has none", 1, true))
      assert.truthy(err.message:find("second has none", 1, true))
    end)

  it("sends refresh to the provider that gave the keys", function()
    local fetched = 0
    local refreshing = credentials.refreshing(function()
      fetched = fetched + 1
      return true, "AKIDr" .. fetched, "r-key", "r-token", 2000000000
    end)
    local chain = credentials.chain {
      function() return nil, "none here" end, refreshing }
    assert.is_false(chain.refresh(chain))
    assert.are.equal("AKIDr1", select(2, chain:get()))
    assert.is_true(chain.refresh(chain))
    assert.are.equal("AKIDr2", select(2, chain:get()))
  end)

  it("shows no key in tostring", function()
    assert.are.equal("cfs.credentials(static)",
      tostring(credentials.static("AKIDs", "static-key", "static-token")))
  end)
end)

describe("credentials.cvm_role", function()
  local credentials = require("cfs.credentials")
  local md

  before_each(function()
    md = metadata.start({ role = "cfs-test-role", keys = {
      TmpSecretId = "AKIDcvm", TmpSecretKey = "cvm-key",
      Token = "cvm-token", ExpiredTime = 2000000000 } })
  end)
  after_each(function() md:stop() end)

  it("asks nothing until the first get, then the role and its keys",
    function()
      local p = credentials.cvm_role({ metadata_url = md.url })
      assert.are.same({ role = 0, keys = 0, total = 0 }, md:counts())
      assert.are.same({ true, "AKIDcvm", "cvm-key", "cvm-token",
        2000000000 }, { p:get() })
      assert.are.same({ true, "AKIDcvm", "cvm-key", "cvm-token",
        2000000000 }, { p:get() })
      assert.are.same({ role = 1, keys = 1, total = 2 }, md:counts())
    end)

  it("says so when no role is bound to the instance", function()
    md:set({ role = false })
    local ok, err = credentials.cvm_role({ metadata_url = md.url }):get()
    assert.is_nil(ok)
    assert.truthy(err.message:find("no CAM role", 1, true))
  end)

  it("keeps the keys out of its error when their answer is broken",
    function()
      md:set({ keys = { TmpSecretId = "AKIDbroken",
        TmpSecretKey = "broken-key", ExpiredTime = 2000000000 } })
      local ok, err = credentials.cvm_role({ metadata_url = md.url }):get()
      assert.is_nil(ok)
      assert.truthy(err.message:find("lacks", 1, true))
      assert_no_secret({ tostring(err) }, { "broken-key" })
    end)

  it("tells a host with no metadata service so within the timeout, once",
    function()
      -- Listens but never accepts: connections wait in the backlog.
      local silent = assert(socket.bind("127.0.0.1", 0))
      local _, port = silent:getsockname()
      local url = "http://127.0.0.1:" .. port
      local p = credentials.cvm_role({ metadata_url = url, timeout = 0.3 })
      local ok, err = p:get()
      assert.is_nil(ok)
      assert.are.equal("InvalidCredentials", err.code)
      assert.truthy(err.message:find("not a CVM", 1, true))
      assert.truthy(err.message:find("(Timeout)", 1, true))
      -- A second provider at that address is told at once, too.
      local again = credentials.cvm_role({ metadata_url = url })
      assert.are.equal(err, select(2, p:get()))
      assert.are.equal(err, select(2, again:get()))
      silent:settimeout(0)
      local connections = 0
      while silent:accept() do connections = connections + 1 end
      silent:close()
      assert.are.equal(1, connections)
    end)
end)

describe("credentials with STS", function()
  local em, credentials
  setup(function()
    em = emulator.start({ workers = 1 })
    credentials = require("cfs.credentials")
  end)
  teardown(function() em:stop() end)
  before_each(function() em:reset() end)

  local function base()
    return credentials.static(em.secret_id, em.secret_key)
  end

  it("assumes a role with TC3-signed AssumeRole and uses its keys",
    function()
      local p = credentials.assume_role({ role_arn = ROLE_ARN,
        credentials = base(), endpoint = em.http_endpoint, duration = 900 })
      local before = os.time()
      local ok, id, key, token, expiry = p:get()
      assert.is_true(ok)
      assert.truthy(id:find("^AKIDsts"))
      assert.are.equal(32, #key)
      assert.truthy(token:find("^sts%-"))
      assert.is_true(expiry >= before + 900 and expiry <= os.time() + 900)
      local c = require("cfs").new({ credentials = p, endpoint = em.endpoint,
        ca_file = em.ca_file, region = "ap-guangzhou" })
      assert.are.equal(0, assert(c:describe_data_flow({})).TotalCount)
      local log = em:requests()
      assert.are.same({ "AssumeRole", "Success", em.secret_id },
        { log[1].action, log[1].code, log[1].secret_id })
      assert.are.same({ "DescribeDataFlow", "Success", id },
        { log[2].action, log[2].code, log[2].secret_id })
    end)

  it("answers the service's code for a role that does not exist", function()
    local p = credentials.assume_role({ role_arn = ROLE_ARN .. "-nope",
      credentials = base(), endpoint = em.http_endpoint })
    local ok, err = p:get()
    assert.is_nil(ok)
    assert.are.equal("ResourceNotFound.RoleNotFound", err.code)
    assert.truthy(err.request_id)
  end)

  it("refuses AssumeRole signed with a wrong key", function()
    local p = credentials.assume_role({ role_arn = ROLE_ARN,
      credentials = credentials.static(em.secret_id, "wrong-key"),
      endpoint = em.http_endpoint })
    local ok, err = p:get()
    assert.is_nil(ok)
    assert.are.equal("AuthFailure.SignatureFailure", err.code)
    assert_no_secret({ tostring(err), tostring(p) }, { "wrong-key" })
  end)

  it("sends AssumeRoleWithWebIdentity unsigned, with the file's token",
    function()
      local file = write_temp(WEB_TOKEN .. "\n")
      local sent = {}
      local http = require("cfs.credentials.http").default()
      local p = credentials.web_identity({ provider_id = "cfs-emulator-oidc",
        web_identity_token_file = file, role_arn = ROLE_ARN,
        endpoint = em.http_endpoint, region = "ap-shanghai",
        http = function(method, url, headers, body, opts)
          sent[#sent + 1] = { headers = headers, body = body }
          return http(method, url, headers, body, opts)
        end })
      local ok, id = p:get()
      assert.is_true(ok)
      assert.truthy(id:find("^AKIDsts"))
      local headers = table.concat(sent[1].headers, "\n")
      assert.truthy(headers:find("Authorization: SKIP\n", 1, true))
      assert.truthy(headers:find("X-TC-Action: AssumeRoleWithWebIdentity",
        1, true))
      assert.truthy(headers:find("X-TC-Region: ap-shanghai", 1, true))
      assert.truthy(sent[1].body:find('"WebIdentityToken":"' .. WEB_TOKEN
        .. '"', 1, true))
      local log = em:requests()
      assert.are.equal("***", log[1].body.WebIdentityToken)
      os.remove(file)
    end)

  it("refuses a web identity token the emulator does not know", function()
    local file = write_temp("not-the-token")
    local p = credentials.web_identity({ provider_id = "cfs-emulator-oidc",
      web_identity_token_file = file, role_arn = ROLE_ARN,
      endpoint = em.http_endpoint })
    local ok, err = p:get()
    assert.is_nil(ok)
    assert.are.equal("InvalidParameter.WebIdentityTokenError", err.code)
    assert_no_secret({ tostring(err) }, { "not-the-token" })
    os.remove(file)
  end)

  it("runs the default chain in order: env, profile, CVM role, TKE OIDC",
    function()
      local md = metadata.start({ role = "cfs-test-role", keys = {
        TmpSecretId = "AKIDchaincvm", TmpSecretKey = "chain-cvm-key",
        Token = "chain-cvm-token", ExpiredTime = 2000000000 } })
      local file = write_temp(WEB_TOKEN)
      local profile = write_temp("[default]\nsecret_id = AKIDchainprof\n"
        .. "secret_key = chain-prof-key\n")
      local env = { TENCENTCLOUD_SECRET_ID = "AKIDchainenv",
        TENCENTCLOUD_SECRET_KEY = "chain-env-key",
        TENCENTCLOUD_CREDENTIALS_FILE = profile,
        CFS_METADATA_URL = md.url, CFS_STS_ENDPOINT = em.http_endpoint,
        TKE_REGION = "ap-guangzhou", TKE_PROVIDER_ID = "cfs-emulator-oidc",
        TKE_WEB_IDENTITY_TOKEN_FILE = file, TKE_ROLE_ARN = ROLE_ARN }
      local seen = {}
      local function first_id()
        with_env(env, function(c)
          local ok, id = c.default():get()
          seen[#seen + 1] = ok and id or "none"
        end)
      end
      first_id()
      env.TENCENTCLOUD_SECRET_ID = nil
      first_id()
      env.TENCENTCLOUD_CREDENTIALS_FILE = "/nonexistent/credentials"
      first_id()
      md:set({ role = false })
      first_id()
      env.TKE_ROLE_ARN = nil
      first_id()
      md:stop()
      os.remove(file)
      os.remove(profile)
      assert.are.same({ "AKIDchainenv", "AKIDchainprof", "AKIDchaincvm" },
        { seen[1], seen[2], seen[3] })
      assert.truthy(seen[4]:find("^AKIDsts"))
      assert.are.equal("none", seen[5])
    end)
end)
