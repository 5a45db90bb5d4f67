-- wrk script of ServeLoad's `--client wrk` mode: POSTs the query images (files 0.png .. N-1.png of the folder given
-- after `--`) to /api/search?k=10 in turn over wrk's keep-alive connections, and prints one JSON line of totals and
-- latency percentiles at the end. Requests are formatted once, up front: per request wrk only writes prepared bytes
-- and parses the response head, so the generator takes as little as possible of the cores the server runs on.
local requests = {}
local next_request = 0

function init(args)
  local folder, count = args[1], tonumber(args[2])
  for i = 0, count - 1 do
    local file = assert(io.open(folder .. "/" .. i .. ".png", "rb"))
    local body = file:read("*a")
    file:close()
    requests[#requests + 1] = wrk.format("POST", "/api/search?k=10", { ["Content-Type"] = "image/png" }, body)
  end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
