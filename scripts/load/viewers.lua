-- wrk script for the load benchmark (scripts/bench.sh): every request is the next page of PAGES
-- (comma-separated paths) as the next signed-in session of the file COOKIES (one cookie value a
-- line), so 200 connections are 200 viewers going round the pages. METHOD=POST with BODY sends a
-- form (a server function). Prints the 5xx count and the latency percentiles in ms.
local cookies, pages = {}, {}
for line in io.lines(os.getenv("COOKIES")) do cookies[#cookies + 1] = line end
for p in string.gmatch(os.getenv("PAGES"), "[^,]+") do pages[#pages + 1] = p end
local method, body = os.getenv("METHOD") or "GET", os.getenv("BODY")
local threads, i, step = {}, 0, 1
status5xx, status4xx = 0, 0

function setup(thread)
  thread:set("offset", #threads)
  table.insert(threads, thread)
end

function init(args)
  i = offset or 0
  step = 1
end

function request()
  i = i + step
  local headers = {
    ["Cookie"] = "ops_console_session=" .. cookies[(i % #cookies) + 1],
    ["Accept-Encoding"] = "br, gzip",
  }
  if method == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["Origin"] = os.getenv("ORIGIN")
  end
  return wrk.format(method, pages[(i % #pages) + 1], headers, body)
end

function response(status, headers, body)
  if status >= 500 then status5xx = status5xx + 1 elseif status >= 400 then status4xx = status4xx + 1 end
end

function done(summary, latency, requests)
  local s5, s4 = 0, 0
  for _, t in ipairs(threads) do
    s5 = s5 + t:get("status5xx")
    s4 = s4 + t:get("status4xx")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.1f rps=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f status5xx=%d status4xx=%d timeouts=%d connect_errors=%d read_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    s5, s4, e.timeout, e.connect, e.read))
end
