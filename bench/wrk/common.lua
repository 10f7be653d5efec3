-- Shared by the wrk scripts: a JSON string escaper and the JSON summary printed by done().

function json_string(s)
  s = tostring(s or "")
  s = s:gsub("[%c\"\\]", function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return string.format("\\u%04x", c:byte())
  end)
  return '"' .. s .. '"'
end

-- Prints one JSON object on stdout: wrk's own summary and latency percentiles, plus the
-- response checks the threads counted (bad_status, bad_body, first_bad).
function print_summary(threads, summary, latency, extra)
  local bad_status, bad_body, first_bad = 0, 0, ""
  for _, t in ipairs(threads) do
    bad_status = bad_status + (t:get("bad_status") or 0)
    bad_body = bad_body + (t:get("bad_body") or 0)
    if first_bad == "" then first_bad = t:get("first_bad") or "" end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"stdev":%.1f,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"p999":%d},' ..
    '"bad_status":%d,"bad_body":%d,"first_bad":%s%s}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9),
    bad_status, bad_body, json_string(first_bad), extra or ""))
end

function note_bad(status, body)
  if first_bad == "" then first_bad = tostring(status) .. " " .. (body or ""):sub(1, 300) end
end
