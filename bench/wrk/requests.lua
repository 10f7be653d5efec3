-- Sends prepared requests in turn, and checks every response.
--
--   wrk ... -s requests.lua <url> -- <requests file> <expected status> [<rejected marker>;;...]
--
-- Each line of the requests file is one request, tab-separated:
--   METHOD <tab> path <tab> body <tab> Header: value <tab> Header: value ...
-- The marker @@SEQ@@ in a body is replaced by a counter at send time (unique titles for writes).
-- A response counts as bad when its status differs from the expected one, or when its body
-- contains one of the rejected markers (e.g. '"isError":true' for a failed MCP tool call).
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(dir .. "common.lua")

local threads, count = {}, 0

function setup(thread)
  count = count + 1
  thread:set("index", count)
  table.insert(threads, thread)
end

local prepared, n, i, expected, markers

function init(args)
  expected = tonumber(args[2])
  markers = {}
  for marker in ((args[3] or "") .. ";;"):gmatch("(.-);;") do
    if marker ~= "" then table.insert(markers, marker) end
  end
  prepared = {}
  for line in io.lines(args[1]) do
    local fields = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do table.insert(fields, field) end
    local headers = {}
    for k = 4, #fields do
      local name, value = fields[k]:match("^([^:]+):%s*(.*)$")
      if name then headers[name] = value end
    end
    local body = fields[3]
    if body == "" then body = nil end
    if body and body:find("@@SEQ@@", 1, true) then
      table.insert(prepared, { fields[1], fields[2], headers, body })  -- formatted at send time
    else
      table.insert(prepared, wrk.format(fields[1], fields[2], headers, body))
    end
  end
  n = #prepared
  if n == 0 then error("no requests in " .. args[1]) end
  i = ((index or 1) - 1) * 7919 % n  -- threads start at different places
  bad_status, bad_body, first_bad = 0, 0, ""
end

local seq = 0

function request()
  i = i % n + 1
  local r = prepared[i]
  if type(r) == "string" then return r end
  seq = seq + 1
  local body = r[4]:gsub("@@SEQ@@", (index or 1) .. "-" .. seq)
  return wrk.format(r[1], r[2], r[3], body)
end

function response(status, headers, body)
  if status ~= expected then
    bad_status = bad_status + 1
    note_bad(status, body)
    return
  end
  for _, marker in ipairs(markers) do
    if body and body:find(marker, 1, true) then
      bad_body = bad_body + 1
      note_bad(status, body)
      return
    end
  end
end

function done(summary, latency, requests)
  print_summary(threads, summary, latency)
end
