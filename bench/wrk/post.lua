-- POST one fixed body to the URL wrk is given, and check every answer.
-- Environment: BENCH_BODY (request body), BENCH_TOKEN (bearer token, optional),
-- BENCH_CONTENT_TYPE (default application/json), BENCH_EXPECT (a substring every 2xx answer must
-- contain), BENCH_STATUS (the expected status, default 200).
-- done() prints one JSON line that bench/run.py reads: counts, errors and latency percentiles (µs).

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local expect = os.getenv("BENCH_EXPECT") or ""
local expected_status = tonumber(os.getenv("BENCH_STATUS") or "200")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrong = 0        -- answers with another status or without the expected text
  first_wrong = ""
end

function response(status, headers, body)
  if status ~= expected_status or (expect ~= "" and not string.find(body, expect, 1, true)) then
    wrong = wrong + 1
    if first_wrong == "" then
      first_wrong = status .. " " .. string.sub(body or "", 1, 200)
    end
  end
end

local function json_string(text)
  return '"' .. string.gsub(text, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local wrong_total, sample = 0, ""
  for _, thread in ipairs(threads) do
    wrong_total = wrong_total + thread:get("wrong")
    if sample == "" then sample = thread:get("first_wrong") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, "wrong_answers": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, "first_wrong": %s}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    wrong_total, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, json_string(sample)))
end
