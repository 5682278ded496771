-- The admin endpoint: fault injection (each kind), the request log and
-- its masking, settings and reset; and that no secret reaches a file.
local emulator = require("spec.helpers.emulator")
local socket = require("socket")

local code = emulator.code

local DOC_BUCKET =
  "https://aileen-data-flow-1251000004.cos.ap-guangzhou.myqcloud.com"
local COS_SECRET = "cosSecretKeyThatMustNotBeLogged"
local KAFKA_PASSWORD = "kafkaPasswordThatMustNotBeLogged"

local function params()
  return { FileSystemId = "cfs-44d53b63e", SourceStorageType = "S3_COS",
    SourceStorageAddress = DOC_BUCKET, SourcePath = "test3",
    TargetPath = "/cfs/test11", SecretId = "AKIDcosExample",
    SecretKey = COS_SECRET, Password = KAFKA_PASSWORD }
end

describe("emulator admin", function()
  local em

  setup(function()
    em = emulator.start({ workers = 2 })
  end)

  teardown(function()
    if em then em:stop() end
  end)

  before_each(function()
    em:reset()
    em:settings({ rate_limit = 0, data_flow_limit = 100,
                  clock_offset = 0 })
  end)

  local function create()
    return em:call("CreateDataFlow", params())
  end

  describe("faults", function()
    it("delay: answers after the delay, then normally", function()
      em:fault({ kind = "delay", delay = 0.5, count = 1 })
      local t0 = socket.gettime()
      local r = em:call("DescribeDataFlow", {})
      assert.is_nil(code(r))
      assert.is_true(socket.gettime() - t0 >= 0.45)
      t0 = socket.gettime()
      em:call("DescribeDataFlow", {})
      assert.is_true(socket.gettime() - t0 < 0.45)
    end)

    it("close_before: closes without acting", function()
      em:fault({ kind = "close_before", count = 1 })
      local r, status = create()
      assert.is_nil(r)
      assert.is_nil(status)
      assert.equal(0, #em:flows())
      assert.is_nil(code(create()))
    end)

    it("close_after: acts, then closes without answering", function()
      em:fault({ kind = "close_after", count = 1 })
      local r, status = create()
      assert.is_nil(r)
      assert.is_nil(status)
      assert.equal(1, #em:flows())
    end)

    it("http_502: an HTML 502", function()
      em:fault({ kind = "http_502", count = 1 })
      local r, status, headers, body = create()
      assert.is_nil(r)
      assert.equal(502, status)
      assert.matches("text/html", headers["content-type"])
      assert.matches("<html>", body)
      assert.equal(0, #em:flows())
    end)

    it("truncated: acts, answers with cut JSON", function()
      em:fault({ kind = "truncated", count = 1 })
      local r, status, _, body = create()
      assert.equal(200, status)
      assert.is_nil(r)
      assert.matches('^{"Response"', body)
      assert.equal(1, #em:flows())
    end)

    it("not_json: HTTP 200 with a body that is not JSON", function()
      em:fault({ kind = "not_json", count = 1 })
      local r, status = create()
      assert.equal(200, status)
      assert.is_nil(r)
      assert.equal(0, #em:flows())
    end)

    it("error: RequestLimitExceeded or InternalError, nothing done",
       function()
      em:fault({ kind = "error", code = "RequestLimitExceeded", count = 1 })
      em:fault({ kind = "error", code = "InternalError", count = 1 })
      assert.equal("RequestLimitExceeded", code(create()))
      assert.equal("InternalError", code(create()))
      assert.equal(0, #em:flows())
      assert.is_nil(code(create()))
    end)

    it("clock_offset: moves the emulator's clock", function()
      em:fault({ kind = "clock_offset", offset = 3600, count = 1 })
      assert.equal("AuthFailure.SignatureExpire",
                   code(em:call("DescribeDataFlow", {})))
      assert.is_nil(code(em:call("DescribeDataFlow", {})))
    end)

    it("lasts S seconds with seconds", function()
      em:fault({ kind = "error", code = "InternalError", seconds = 0.5 })
      assert.equal("InternalError", code(create()))
      assert.equal("InternalError", code(create()))
      os.execute("sleep 0.6")
      assert.is_nil(code(create()))
    end)

    it("strikes only its action with an action filter", function()
      em:fault({ kind = "error", code = "InternalError", count = 1,
                 action = "DeleteDataFlow" })
      assert.is_nil(code(em:call("DescribeDataFlow", {})))
      assert.equal("InternalError", code(em:call("DeleteDataFlow",
        { DataFlowId = "cfs-dataflow-00000000" })))
    end)

    it("is counted across workers", function()
      em:fault({ kind = "error", code = "InternalError", count = 3 })
      local failed = 0
      for _ = 1, 8 do
        if code(em:call("DescribeDataFlow", {})) then failed = failed + 1 end
      end
      assert.equal(3, failed)
    end)

    it("is cleared by DELETE /faults", function()
      em:fault({ kind = "error", code = "InternalError" })
      em:clear_faults()
      assert.is_nil(code(em:call("DescribeDataFlow", {})))
    end)

    it("refuses an unknown kind or a bad error code", function()
      local _, status = em:fault({ kind = "explode" })
      assert.equal(400, status)
      _, status = em:fault({ kind = "error", code = "Nope" })
      assert.equal(400, status)
    end)
  end)

  describe("request log", function()
    it("records action, key, code, request id and fault", function()
      local r = em:call("DescribeDataFlow", {})
      em:fault({ kind = "error", code = "InternalError", count = 1 })
      em:call("DescribeDataFlow", {})
      local log = em:requests()
      assert.equal(2, #log)
      assert.equal("DescribeDataFlow", log[1].action)
      assert.equal(em.secret_id, log[1].secret_id)
      assert.equal("Success", log[1].code)
      assert.equal(r.Response.RequestId, log[1].request_id)
      assert.equal("InternalError", log[2].code)
      assert.equal("error", log[2].fault)
    end)

    it("masks SecretKey and Password", function()
      create()
      local entry = em:requests()[1]
      assert.equal("***", entry.body.SecretKey)
      assert.equal("***", entry.body.Password)
      assert.equal("AKIDcosExample", entry.body.SecretId)
    end)

    it("leaves no secret in any file the emulator writes", function()
      local key = emulator.default_config().keys[2]
      create()
      em:call("DescribeDataFlow", {}, { secret_id = key.secret_id,
        secret_key = key.secret_key, token = key.token })
      em:call("CreateDataFlow", "{not json " .. COS_SECRET)
      os.execute("sleep 1.2") -- the access log is flushed each second
      local files = io.popen("find '" .. em.dir .. "' -type f"):read("a")
      for path in files:gmatch("[^\n]+") do
        local f = io.open(path, "rb")
        local text = f:read("a")
        f:close()
        for _, secret in ipairs({ COS_SECRET, KAFKA_PASSWORD, key.token,
                                  em.secret_key .. "x", "Signature=" }) do
          assert.is_nil(text:find(secret, 1, true), path .. ": " .. secret)
        end
      end
    end)
  end)

  describe("settings and reset", function()
    it("turns the rate limit off with 0 and on again", function()
      em:settings({ rate_limit = 2 })
      local limited = 0
      for _ = 1, 5 do
        if code(em:call("DescribeDataFlow", {})) == "RequestLimitExceeded"
          then limited = limited + 1 end
      end
      assert.is_true(limited > 0)
      em:reset()
      em:settings({ rate_limit = 0 })
      for _ = 1, 5 do assert.is_nil(code(em:call("DescribeDataFlow", {}))) end
    end)

    it("changes pending_seconds", function()
      em:settings({ pending_seconds = 0 })
      create()
      assert.equal("available", em:flows()[1].Status)
    end)

    it("refuses unknown settings", function()
      local _, status = em:settings({ nope = 1 })
      assert.equal(400, status)
    end)

    it("forgets flows, log and faults on reset", function()
      create()
      em:fault({ kind = "error", code = "InternalError" })
      em:reset()
      assert.equal(0, #em:flows())
      assert.equal(0, #em:requests())
      assert.is_nil(code(em:call("DescribeDataFlow", {})))
    end)

    it("answers /health", function()
      local body, status = em:admin("GET", "/health")
      assert.equal(200, status)
      assert.is_true(body.ok)
    end)
  end)
end)
