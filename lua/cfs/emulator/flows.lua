-- The data-flow actions, with their state in the shared dict so every
-- worker sees the same flows. Keys:
--   flow:<id>        the flow's record (JSON)
--   flow_seq         how many flows were ever made
--   flow_at:<n>      the id of the n-th flow (creation order, for listing)
--   fs_count:<fs>    flows on a file system not being deleted
local util = require("cfs.emulator.util")
local config = require("cfs.emulator.config")

local dict, json = util.dict, util.json

-- state requires this module: look it up on first use.
local state_module

local function state_enabled()
  state_module = state_module or require("cfs.emulator.state")
  return state_module.enabled()
end

local M = {}

local FS_ID = "^cfs%-[0-9a-z]+$"
local FLOW_ID = "^cfs%-dataflow%-%x%x%x%x%x%x%x%x$"
local MAX_NAME_CHARS = 64

-- Fields of DataFlowInfo a record keeps, in the API's order.
local SHOWN = { "DataFlowId", "DataFlowName", "SourceStorageType",
  "SourceStorageAddress", "SourcePath", "TargetPath", "Status",
  "CreationTime", "FileSystemId", "AutoRefresh", "UserKafkaTopic",
  "ServerAddr", "UserName", "AutoRefreshStatus", "AutoRefreshTime" }

local function fail(code, message)
  return nil, code, message
end

local function load_flow(id)
  local text = dict:get("flow:" .. id)
  return text and json.decode(text)
end

local function store_flow(flow, add)
  local text = json.encode(flow)
  local ok, err
  if add then
    ok, err = dict:safe_add("flow:" .. flow.DataFlowId, text)
  else
    ok, err = dict:safe_set("flow:" .. flow.DataFlowId, text)
  end
  if ok and state_enabled() then dict:set("dirty", true) end
  return ok, err
end

-- Status follows from the record's times, so no timer has to move it.
local function status(flow, now)
  local pending = util.setting("pending_seconds") or 0
  if flow.deleted_at then
    if now >= flow.deleted_at + pending then return nil end
    return "deleting"
  end
  if now < flow.created_at + pending then return "pending" end
  return "available"
end

-- The flow as DescribeDataFlow shows it, or nil once it is gone.
local function shown(flow, now)
  local state = status(flow, now)
  if not state then
    dict:delete("flow:" .. flow.DataFlowId)
    dict:set("dirty", true)
    return nil
  end
  local out = {}
  for _, name in ipairs(SHOWN) do out[name] = flow[name] end
  out.Status = state
  if flow.AutoRefresh == 1 then out.AutoRefreshStatus = state end
  return out
end

-- Every flow still there, in creation order, as shown.
function M.all(now, keep)
  local list = {}
  for n = 1, dict:get("flow_seq") or 0 do
    local id = dict:get("flow_at:" .. n)
    local flow = id and load_flow(id)
    local view = flow and shown(flow, now)
    if view and (not keep or keep(flow)) then list[#list + 1] = view end
  end
  return list
end

local function is_name_char(cp)
  return (cp >= 48 and cp <= 57) or (cp >= 65 and cp <= 90)
      or (cp >= 97 and cp <= 122) or cp == 95 or cp == 45
      or (cp >= 0x4E00 and cp <= 0x9FFF) or (cp >= 0x3400 and cp <= 0x4DBF)
      or (cp >= 0x20000 and cp <= 0x2A6DF)
end

-- Names count characters, not bytes (the body is valid UTF-8 already).
local function check_name(name)
  if name == nil then return true end
  local chars, ok = 0, true
  local i, n = 1, #name
  while ok and i <= n do
    local cp, len = util.char_at(name, i)
    chars, ok, i = chars + 1, is_name_char(cp), i + len
  end
  if ok and chars <= MAX_NAME_CHARS then return true end
  return fail("InvalidParameterValue.InvalidDataFlowName",
    "DataFlowName must be at most 64 letters, digits, CJK characters, "
    .. "_ or -.")
end

-- A known file system in the request's region, or the error to answer.
local function find_fs(id, region)
  if not id:find(FS_ID) or #id < 12 or #id > 16 then
    return fail("InvalidParameterValue.InvalidFileSystemId",
                "FileSystemId is not a file system id.")
  end
  local fs = config.file_systems[id]
  if not fs or (region and fs.region ~= region) then
    return fail("ResourceNotFound.FileSystemNotFound",
                "The file system " .. id .. " does not exist.")
  end
  return fs
end

local function check_target(path)
  if path:sub(1, 5) ~= "/cfs/" or path:find("//", 1, true)
     or ("/" .. path .. "/"):find("/%.%.?/") then
    return fail("InvalidParameterValue.InvalidDataFlowTargetPath",
                "TargetPath must be a path under /cfs/.")
  end
  return true
end

local function check_source(p)
  if p.SourceStorageType ~= "S3_COS" and p.SourceStorageType ~= "S3_L5" then
    return fail("InvalidParameterValue.InvalidDataFlowSourceStorageType",
                "SourceStorageType must be S3_COS or S3_L5.")
  end
  if not config.bucket_accepts(p.SourceStorageAddress, p.SecretId,
                               p.SecretKey) then
    return fail("InvalidParameterValue.InvalidDataFlowSourceInfo",
      "The source bucket does not exist or the keys cannot read it.")
  end
  return true
end

-- Checks in the order a reader of the request would meet the fields.
local function check_create(p, region)
  local ok, code, message = find_fs(p.FileSystemId, region)
  if not ok then return ok, code, message end
  ok, code, message = check_name(p.DataFlowName)
  if not ok then return ok, code, message end
  if p.AutoRefresh ~= nil and p.AutoRefresh ~= 0 and p.AutoRefresh ~= 1 then
    -- UNCONFIRMED: the API lists this code for CreateDataFlow; the
    -- auto-refresh switch is the only task-type-like input it has.
    return fail("InvalidParameterValue.InvalidLifecycleDataTaskType",
                "AutoRefresh must be 0 or 1.")
  end
  ok, code, message = check_target(p.TargetPath)
  if not ok then return ok, code, message end
  return check_source(p)
end

local function new_id()
  return string.format("cfs-dataflow-%08x", math.random(0, 0xffffffff))
end

local function reserve_slot(fs_id)
  local limit = util.setting("data_flow_limit") or 0
  local count = dict:incr("fs_count:" .. fs_id, 1, 0)
  if count > limit then
    dict:incr("fs_count:" .. fs_id, -1)
    return fail("ResourceInsufficient.DataFlowLimitExceeded",
      string.format("A file system may have at most %d data flows.", limit))
  end
  return true
end

-- os.date costs system calls (glibc's tzset): format each second once.
local last_second, last_time

local function local_time(now)
  local second = math.floor(now)
  if second ~= last_second then
    last_second, last_time = second, os.date("%Y-%m-%d %H:%M:%S", second)
  end
  return last_time
end

local function new_flow(p, now)
  local target = p.TargetPath
  if target:sub(-1) ~= "/" then target = target .. "/" end
  return { DataFlowName = p.DataFlowName or "", FileSystemId = p.FileSystemId,
    SourceStorageType = p.SourceStorageType,
    SourceStorageAddress = p.SourceStorageAddress,
    SourcePath = p.SourcePath, TargetPath = target,
    CreationTime = local_time(now),
    AutoRefresh = p.AutoRefresh, UserKafkaTopic = p.UserKafkaTopic,
    ServerAddr = p.ServerAddr, UserName = p.UserName,
    AutoRefreshTime = p.AutoRefresh == 1 and local_time(now) or nil,
    created_at = now }
end

-- Stores a new flow under a fresh id; ids collide rarely, so retry.
local function insert(flow)
  for _ = 1, 8 do
    flow.DataFlowId = new_id()
    local ok, err = store_flow(flow, true)
    if ok then
      local n = dict:incr("flow_seq", 1, 0)
      dict:set("flow_at:" .. n, flow.DataFlowId)
      return true
    end
    if err ~= "exists" then
      return fail("InternalError", "The emulator's state is full: " .. err)
    end
  end
  return fail("InternalError", "No free data flow id.")
end

function M.CreateDataFlow(req, p)
  local ok, code, message = check_create(p, req.region)
  if not ok then return ok, code, message end
  ok, code, message = reserve_slot(p.FileSystemId)
  if not ok then return ok, code, message end
  local flow = new_flow(p, req.now)
  ok, code, message = insert(flow)
  if not ok then
    dict:incr("fs_count:" .. p.FileSystemId, -1)
    return ok, code, message
  end
  return { DataFlowId = flow.DataFlowId }
end

local function page_bounds(p)
  local limit, offset = p.Limit or 20, p.Offset or 0
  if limit > 100 then
    return fail("InvalidParameterValue", "Limit must be at most 100.")
  end
  return limit, offset
end

local function check_filters(p, region)
  if p.FileSystemId then
    local ok, code, message = find_fs(p.FileSystemId, region)
    if not ok then return ok, code, message end
  end
  if p.DataFlowId and not p.DataFlowId:find(FLOW_ID) then
    return fail("InvalidParameterValue.InvalidDataFlowId",
                "DataFlowId is not a data flow id.")
  end
  if p.DataFlowName then return check_name(p.DataFlowName) end
  return true
end

function M.DescribeDataFlow(req, p)
  local ok, code, message = check_filters(p, req.region)
  if not ok then return ok, code, message end
  local limit, offset = page_bounds(p)
  if not limit then return limit, offset, message end
  local list = M.all(req.now, function(flow)
    local fs = config.file_systems[flow.FileSystemId]
    return (not req.region or (fs and fs.region == req.region))
      and (not p.FileSystemId or flow.FileSystemId == p.FileSystemId)
      and (not p.DataFlowId or flow.DataFlowId == p.DataFlowId)
  end)
  local page = {}
  for i = offset + 1, math.min(#list, offset + limit) do
    page[#page + 1] = list[i]
  end
  return { TotalCount = #list,
           DataFlows = #page > 0 and page or util.EMPTY_ARRAY }
end

-- The live (not deleting) flow a request names, or the error to answer.
local function find_flow(p)
  if not p.DataFlowId:find(FLOW_ID) then
    return fail("InvalidParameterValue.InvalidDataFlowId",
                "DataFlowId is not a data flow id.")
  end
  local flow = load_flow(p.DataFlowId)
  if not flow or flow.deleted_at then
    return fail("InvalidParameterValue.InvalidDataFlowId",
                "The data flow " .. p.DataFlowId .. " does not exist.")
  end
  if p.FileSystemId and p.FileSystemId ~= flow.FileSystemId then
    return fail("ResourceNotFound.FileSystemNotFound",
                "The data flow is not on file system " .. p.FileSystemId)
  end
  return flow
end

local MODIFIABLE = { "DataFlowName", "UserKafkaTopic", "ServerAddr",
                     "UserName", "AutoRefresh" }

function M.ModifyDataFlow(req, p)
  local flow, code, message = find_flow(p)
  if not flow then return flow, code, message end
  local ok
  ok, code, message = check_name(p.DataFlowName)
  if not ok then return ok, code, message end
  if p.SecretId or p.SecretKey then
    if not config.bucket_accepts(flow.SourceStorageAddress,
                                 p.SecretId or "", p.SecretKey or "") then
      return fail("InvalidParameterValue.InvalidDataFlowSourceInfo",
                  "These keys cannot read the flow's source bucket.")
    end
  end
  for _, name in ipairs(MODIFIABLE) do
    if p[name] ~= nil then flow[name] = p[name] end
  end
  store_flow(flow)
  return { DataFlowId = flow.DataFlowId }
end

function M.DeleteDataFlow(req, p)
  local flow, code, message = find_flow(p)
  if not flow then return flow, code, message end
  flow.deleted_at = req.now
  store_flow(flow)
  dict:incr("fs_count:" .. flow.FileSystemId, -1, 0)
  return {}
end

local function fs_info(fs, shapes)
  local info = shapes.example_structure("FileSystemInfo")
  info.FileSystemId, info.CreationToken, info.FsName =
    fs.id, fs.name or "", fs.name or ""
  info.Zone = fs.zone or (fs.region .. "-1")
  info.LifeCycleState, info.Protocol, info.StorageType = "available",
    "NFS", "SD"
  info.CreationTime = fs.creation_time or "2024-01-01 00:00:00"
  info.SizeLimit, info.Capacity = 10240, 10240
  info.Tags = util.EMPTY_ARRAY
  return info
end

function M.DescribeCfsFileSystems(req, p, shapes)
  local list = {}
  for _, fs in ipairs(config.raw.file_systems or {}) do
    if (not req.region or fs.region == req.region)
       and (not p.FileSystemId or fs.id == p.FileSystemId)
       and (not p.CreationToken or fs.name == p.CreationToken) then
      list[#list + 1] = fs_info(fs, shapes)
    end
  end
  local limit, offset, page = p.Limit or 10, p.Offset or 0, {}
  for i = offset + 1, math.min(#list, offset + limit) do
    page[#page + 1] = list[i]
  end
  return { TotalCount = #list,
           FileSystems = #page > 0 and page or util.EMPTY_ARRAY }
end

-- Drops the counts and rebuilds them from the stored flows.
function M.recount()
  local counts = {}
  for n = 1, dict:get("flow_seq") or 0 do
    local id = dict:get("flow_at:" .. n)
    local flow = id and load_flow(id)
    if flow and not flow.deleted_at then
      counts[flow.FileSystemId] = (counts[flow.FileSystemId] or 0) + 1
    end
  end
  for fs_id, count in pairs(counts) do dict:set("fs_count:" .. fs_id, count) end
end

return M
