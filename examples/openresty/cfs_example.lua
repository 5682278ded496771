--- The example's handlers: POST /flows creates a data flow from the JSON
-- body, GET /flows lists them. The client is made once, in init_by_lua,
-- and connects lazily in each worker.
local cjson = require "cjson.safe"

local example = {}
local client


function example.init()
  local cfs = require "cfs"
  client = cfs.new {
    pacer = require("cfs.pace_shared").new { dict = "cfs_pace" },
    -- Under nginx the transport is cosockets (cfs.transport.resty).
  }
end


local function answer(status, value)
  ngx.status = status
  ngx.header.content_type = "application/json"
  ngx.say(cjson.encode(value))
end


local function create()
  ngx.req.read_body()
  local params = cjson.decode(ngx.req.get_body_data() or "")
  if type(params) ~= "table" then
    return answer(400, { error = "the body must be a JSON object" })
  end
  local res, err = client:create_data_flow(params)
  if not res then
    return answer(502, { code = err.code, message = err.message })
  end
  answer(200, { DataFlowId = res.DataFlowId })
end


local function list()
  local flows = {}
  for flow, err in client:data_flows { FileSystemId = ngx.var.arg_fs } do
    if not flow then
      return answer(502, { code = err.code, message = err.message })
    end
    flows[#flows + 1] = { DataFlowId = flow.DataFlowId,
      DataFlowName = flow.DataFlowName, Status = flow.Status }
  end
  answer(200, { flows = flows })
end


function example.flows()
  if ngx.req.get_method() == "POST" then return create() end
  return list()
end


return example
