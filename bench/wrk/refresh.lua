-- The refresh grant under load: every refresh token is used exactly once.
--
--   WRK_LEFTOVER=<file> wrk ... -s refresh.lua <url> -- <tokens file> <client_id> <resource> <threads>
--
-- Each thread keeps a queue of live refresh tokens (one per line of the tokens file, split
-- between threads). A request takes the oldest; its response's new refresh token (rotation)
-- joins the queue. With several times more tokens than connections the queue never runs dry.
-- At the end the tokens still queued are written to the leftover file for the next run.
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(dir .. "common.lua")

local threads, count = {}, 0

function setup(thread)
  count = count + 1
  thread:set("index", count)
  table.insert(threads, thread)
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local prefix, headers  -- queue, head, tail, dry: globals, read by done() through thread:get

function init(args)
  queue, head, tail = {}, 1, 0
  local k = 0
  local nthreads = tonumber(args[4] or "1")
  for line in io.lines(args[1]) do
    k = k + 1
    if line ~= "" and (k - 1) % nthreads == (index - 1) then
      tail = tail + 1
      queue[tail] = line
    end
  end
  prefix = "grant_type=refresh_token&client_id=" .. urlencode(args[2]) .. "&resource=" .. urlencode(args[3]) ..
    "&refresh_token="
  headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Accept"] = "application/json" }
  bad_status, bad_body, first_bad, dry = 0, 0, "", 0
end

function request()
  local token
  if head <= tail then
    token = queue[head]
    queue[head] = nil
    head = head + 1
  else
    token = "queue-ran-dry"
    dry = dry + 1
  end
  return wrk.format("POST", wrk.path, headers, prefix .. token)
end

function response(status, headers, body)
  if status ~= 200 then
    bad_status = bad_status + 1
    note_bad(status, body)
    return
  end
  local fresh = body and body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if fresh then
    tail = tail + 1
    queue[tail] = fresh
  else
    bad_body = bad_body + 1
    note_bad(status, body)
  end
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("WRK_LEFTOVER"), "w"))
  local dry_total = 0
  for _, t in ipairs(threads) do
    local left, first, last = t:get("queue"), t:get("head"), t:get("tail")
    for k = first, last do out:write(left[k], "\n") end
    dry_total = dry_total + (t:get("dry") or 0)
  end
  out:close()
  print_summary(threads, summary, latency, string.format(',"queue_ran_dry":%d', dry_total))
end
