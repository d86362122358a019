-- wrk script: SubmitQuery (照会依頼) with a unique processing number on every request.
-- wrk ... -s bench/submit.lua URL -- PREFIX RESIDENTS FLAGGED MIX
--   PREFIX     unique per run, so that no processing number repeats across runs
--   RESIDENTS  subject codes SIM0000000000001..RESIDENTS are in the directory
--   FLAGGED    the first FLAGGED of them have 自動応答不可
--   MIX        1: draw from all residents (FLAGGED/RESIDENTS of them flagged); 0: unflagged only
-- done() prints one JSON line (latencies in microseconds) for bench/run.py.

local threads = {}
local counter = 0

local TEMPLATE = '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
  .. '<q:SubmitQueryRequest xmlns:q="urn:hogo-gateway:provision:1">'
  .. '<q:processingNumber>%s</q:processingNumber>'
  .. '<q:requesterOrgCode>1310000000000001</q:requesterOrgCode>'
  .. '<q:requesterDeptCode>D01</q:requesterDeptCode><q:requesterUserId>user_7</q:requesterUserId>'
  .. '<q:affairCode>JM00000000000001</q:affairCode><q:procedureCode>JT00000000000001</q:procedureCode>'
  .. '<q:itemCode>TM00000000000001</q:itemCode><q:subjectCode>SIM%013d</q:subjectCode>'
  .. '<q:requestedAt>2026-11-26T10:00:00+09:00</q:requestedAt>'
  .. '</q:SubmitQueryRequest></soap:Body></soap:Envelope>'

local HEADERS = {
  ["Content-Type"] = "text/xml; charset=utf-8",
  ["SOAPAction"] = '"urn:hogo-gateway:provision:1/SubmitQuery"',
}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1]
  residents = tonumber(args[2])
  flagged = tonumber(args[3])
  mix = args[4] == "1"
  math.randomseed(os.time() * 1000 + tid)
end

function request()
  counter = counter + 1
  local first = mix and 1 or (flagged + 1)
  local subject = math.random(first, residents)
  local pn = string.format("%s-%d-%d", prefix, tid, counter)
  return wrk.format("POST", nil, HEADERS, string.format(TEMPLATE, pn, subject))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50": %d, "p90": %d, '
      .. '"p99": %d, "max": %d, "mean": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
