-- Webhook intake load for bench/webhook_intake.py: every request is a distinct event.
--
--   wrk -t N -c N -s intake.lua URL -- <body template file> <content type> [<header: value> ...]
--
-- The body template (written by the Python side from the connectors' real payload shapes)
-- has "__ID__" where the event id goes, and "__TS__" for a unix time. Each request gets
-- id = thread number * 1e9 + the thread's counter, so ids never repeat within a run.
--
-- Run with one connection per thread (-t == -c): answers then come in the order requests
-- were sent, so each thread knows exactly which ids were answered and which were cut: in
-- flight when wrk stopped (at most one per connection), or lost to a reset. (wrk also calls
-- request() once on the first thread to check the script; that id is never sent and shows
-- among the cut ones.) done() prints one "THREAD" line per thread (id, sent, 2xx, other,
-- in flight, lost) and a "SUMMARY" line (duration us, answers, p50/p99/max latency us,
-- socket errors: connect, read, write, status, timeout) for the Python side.

local threads = {}
local count = 0

function setup(thread)
   count = count + 1
   thread:set("tid", count)
   table.insert(threads, thread)
end

function init(args)
   local fh = assert(io.open(args[1], "rb"))
   template = fh:read("*a")
   fh:close()
   headers = {["Content-Type"] = args[2]}
   for i = 3, #args do
      local name, value = args[i]:match("^([^:]+):%s*(.*)$")
      headers[name] = value
   end
   sent, ok, bad = 0, 0, 0
   pending = ""  -- id of the request on the wire, "" when none
   lost = ""     -- ids sent whose answer never came (connection reset mid-request), comma-separated
end

function request()
   if pending ~= "" then
      lost = lost .. pending .. ","
   end
   sent = sent + 1
   pending = string.format("%.0f", tid * 1e9 + sent)
   local body = template:gsub("__ID__", pending):gsub("__TS__", string.format("%.0f", os.time()))
   return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      bad = bad + 1
      if bad <= 3 then
         io.stderr:write("non-2xx " .. status .. ": " .. string.sub(body or "", 1, 300) .. "\n")
      end
   end
   pending = ""
end

function done(summary, latency, requests)
   for _, t in ipairs(threads) do
      io.write(string.format("THREAD %d %d %d %d %s %s\n", t:get("tid"), t:get("sent"), t:get("ok"), t:get("bad"),
                             t:get("pending") == "" and "-" or t:get("pending"),
                             t:get("lost") == "" and "-" or t:get("lost")))
   end
   local e = summary.errors
   io.write(string.format("SUMMARY %d %d %d %d %d %d %d %d %d %d\n", summary.duration, summary.requests,
                          latency:percentile(50), latency:percentile(99), latency.max,
                          e.connect, e.read, e.write, e.status, e.timeout))
end
