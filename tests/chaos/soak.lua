-- wrk script of `make soak` (scripts/soak): a mix of GET /data requests.
--   first pages, cursor pages (the Link rel="next" of an earlier answer on the same wrk thread),
--   filters (eq, in, gte, prefix, since/until, order=asc), field selection, JSON / NDJSON / CSV,
--   and GET /data/{id} of ids listed in the file $SOAK_IDS (one a line).
-- done() prints one line: SOAKJSON {...} with latency percentiles, socket errors and status counts.

local ids = {}
local f = os.getenv("SOAK_IDS") and io.open(os.getenv("SOAK_IDS"))
if f then
  for line in f:lines() do ids[#ids + 1] = line end
  f:close()
end

local carriers = { "AA", "IB", "AM", "AC", "LA", "NH", "SQ", "LH", "QR", "B6" }
local airports = { "MEX", "SEA", "MAD", "AMS", "DOH", "PTY", "LHR", "CDG", "IST", "DXB" }
local statuses = { "landed", "scheduled", "departed", "delayed", "boarding", "cancelled", "diverted" }

local function pick(t) return t[math.random(#t)] end

-- { weight, function returning a path }
local mix = {
  { 18, function() return "/data?limit=100" end },
  { 10, function() return "/data?limit=" .. pick({ 10, 50, 200, 1000 }) .. "&order=" .. pick({ "asc", "desc" }) end },
  { 10, function() return "/data?carrier=" .. pick(carriers) .. "&limit=50" end },
  { 4,  function() return "/data?origin=" .. pick(airports) .. "&status=" .. pick(statuses) .. "&order=asc&limit=100" end },
  { 2,  function() return "/data?carrier__in=" .. pick(carriers) .. "," .. pick(carriers) .. "&destination__prefix=" ..
                          string.sub(pick(airports), 1, 1) .. "&limit=100" end },
  { 6,  function() return "/data?delay_minutes__gte=" .. pick({ 15, 60, 120 }) ..
                          "&fields=event_id,event_time,carrier,flight_number,delay_minutes&limit=100" end },
  { 6,  function() local h = math.random(0, 3)
          return string.format("/data?since=2026-01-01T%02d:00:00Z&until=2026-01-01T%02d:30:00Z&limit=100", h, h) end },
  { 8,  function() return "/data?format=ndjson&limit=" .. pick({ 100, 500 }) end },
  { 8,  function() return "/data?format=csv&limit=200&fields=event_id,event_time,carrier,origin,destination,status" end },
  { 4,  function() return "/data?actual_departure__isnull=true&limit=20" end },
  { 6,  function() if #ids > 0 then return "/data/" .. pick(ids) end return "/data?limit=1" end },
}
local total = 0
for _, m in ipairs(mix) do total = total + m[1] end

local cursors = {}          -- next-page paths seen on this thread
local CURSOR_SHARE = 20     -- percent of requests that follow a cursor when one is at hand
counts = { s2xx = 0, s4xx = 0, s5xx = 0, other = 0, cursor = 0 }   -- global: done() reads it with thread:get

request = function()
  if #cursors > 0 and math.random(100) <= CURSOR_SHARE then
    counts.cursor = counts.cursor + 1
    return wrk.format("GET", table.remove(cursors, math.random(#cursors)))
  end
  local r = math.random(total)
  for _, m in ipairs(mix) do
    r = r - m[1]
    if r <= 0 then return wrk.format("GET", m[2]()) end
  end
end

response = function(status, headers, body)
  if status >= 200 and status < 300 then counts.s2xx = counts.s2xx + 1
  elseif status >= 400 and status < 500 then counts.s4xx = counts.s4xx + 1
  elseif status >= 500 then counts.s5xx = counts.s5xx + 1
  else counts.other = counts.other + 1 end
  local link = headers["Link"] or headers["link"]
  if link and #cursors < 64 then
    local path = string.match(link, "<([^>]+)>")
    if path then
      path = string.gsub(path, "^https?://[^/]+", "")
      cursors[#cursors + 1] = path
    end
  end
end

local threads = {}
setup = function(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

init = function(args)
  math.randomseed(os.time() * 1000 + (id or 0))
end

done = function(summary, latency, requests)
  local c = { s2xx = 0, s4xx = 0, s5xx = 0, other = 0, cursor = 0 }
  for _, t in ipairs(threads) do
    local tc = t:get("counts")
    for k, _ in pairs(c) do c[k] = c[k] + (tc[k] or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    'SOAKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_err":%d,"read_err":%d,"write_err":%d,' ..
    '"status_err":%d,"timeout_err":%d,"s2xx":%d,"s4xx":%d,"s5xx":%d,"other":%d,"cursor_pages":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    c.s2xx, c.s4xx, c.s5xx, c.other, c.cursor,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
