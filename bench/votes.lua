-- wrk script of bench/votes.py (run by it; see there).
--
--   wrk ... -s bench/votes.lua URL -- vote|ping VOTERS_FILE OFFSET THREADS
--
-- vote: POST /api/v1/entries/{id}/votes as many distinct voters. Request number n (over
-- every round and every wrk thread: thread t of T sends n = OFFSET + t + T*k) is made by
-- voter v = n mod V for entry (v + p) mod E, where p = n div V is the voter's p-th vote.
-- So a voter's votes are V requests apart and go to distinct entries: the daily quota
-- (5 votes, 1 per entry) holds as long as the driver keeps n below 5*V.
-- Each voter has its own bearer token, device id and X-Forwarded-For address (4 voters
-- per /24), as they would arrive through nginx.
-- ping: GET /api/v1/ping, with the same bookkeeping, as the ceiling.
--
-- Every response is counted by status (and error code); done() prints one JSON line.

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local mode, offset, stride
local tokens, addresses, devices, entries = {}, {}, {}, {}
local voters = 0
counter = 0
statuses = {}

function init(args)
  mode = args[1]
  offset = tonumber(args[3]) + id
  stride = tonumber(args[4])
  if mode ~= "vote" then return end
  local file = assert(io.open(args[2], "r"))
  for line in file:lines() do
    local kind, a, b, c = line:match("^(%a) (%S+) ?(%S*) ?(%S*)$")
    if kind == "e" then
      table.insert(entries, a)
    elseif kind == "v" then
      table.insert(tokens, a)
      table.insert(addresses, b)
      table.insert(devices, c)
    end
  end
  file:close()
  voters = #tokens
end

local user_agent = "ContestApp/2.3 (iPhone; iOS 17.4; Scale/3.00)"

function request()
  local n = offset + stride * counter
  counter = counter + 1
  if mode ~= "vote" then
    return wrk.format("GET", "/api/v1/ping", {["User-Agent"] = user_agent})
  end
  local v = n % voters
  local p = math.floor(n / voters)
  local entry = entries[(v + p) % #entries + 1]
  return wrk.format("POST", "/api/v1/entries/" .. entry .. "/votes", {
    ["Authorization"] = "Bearer " .. tokens[v + 1],
    ["X-Forwarded-For"] = addresses[v + 1],
    ["X-Device-Id"] = devices[v + 1],
    ["Idempotency-Key"] = "bench-" .. n,
    ["User-Agent"] = user_agent,
    ["Content-Type"] = "application/json",
  }, "{}")
end

function response(status, headers, body)
  local key = tostring(status)
  if status ~= 201 and status ~= 200 then
    local code = body and body:match('"code"%s*:%s*"([^"]+)"')
    key = key .. " " .. (code or "-")
  end
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local merged, sent = {}, 0
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses")
    for key, n in pairs(counted) do merged[key] = (merged[key] or 0) + n end
    sent = math.max(sent, thread:get("counter"))
  end
  local parts = {}
  for key, n in pairs(merged) do table.insert(parts, string.format('"%s": %d', key, n)) end
  local errors = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"duration_us": %d, "requests": %d, "max_sent_per_thread": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "socket_errors": %d, "statuses": {%s}}\n',
    summary.duration, summary.requests, sent, latency:percentile(50), latency:percentile(99), latency.mean,
    errors.connect + errors.read + errors.write + errors.timeout, table.concat(parts, ", ")))
end
