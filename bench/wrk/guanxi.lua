-- wrk script for Guanxi: bearer token from $TOKEN (and a session cookie from $COOKIE); per-status counts;
-- one "WRKJSON {...}" summary line at the end (parsed by bench/common.sh).
--   GET:  each request takes the next path of $PATHS_FILE (one per line; every
--         thread starts at a different offset), else the path on the command line.
--   POST: $POST_CONTACT=1 creates a contact per request: a Chinese name drawn like the
--         seeded ones (so name filters match the new rows about as often as the old),
--         a unique e-mail and mobile (from $RUN_NONCE, the thread and a counter), and an
--         account_id taken in turn from $ACCOUNTS_FILE (one id per line) when that is set.
threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function lines(file)
  local t = {}
  if file and file ~= "" then
    for l in io.lines(file) do
      if l ~= "" then table.insert(t, l) end
    end
  end
  return t
end

local SURNAMES = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                  "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗"}
local GIVEN = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
               "涛", "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "萍", "红", "建",
               "文", "辉", "力", "斌", "宇", "浩", "凯", "鹏", "晨", "欣", "雪", "梅"}

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
  -- The web pages sign in with a session cookie instead ($COOKIE: "guanxi_session=…").
  if os.getenv("COOKIE") and os.getenv("COOKIE") ~= "" then
    wrk.headers["Cookie"] = os.getenv("COOKIE")
  end
  math.randomseed(tonumber(os.getenv("RUN_NONCE") or os.time()) + tid)
  statuses = {}
  counter = 0
  nonce = tonumber(os.getenv("RUN_NONCE") or os.time())
  paths = lines(os.getenv("PATHS_FILE"))
  accounts = lines(os.getenv("ACCOUNTS_FILE"))
  post = os.getenv("POST_CONTACT") == "1"
  if post then
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  end
end

function request()
  counter = counter + 1
  if post then
    local n = (nonce % 1000) * 100000 + tid * 50000 + counter
    local account = ""
    if #accounts > 0 then
      account = string.format('"account_id":"%s",', accounts[(tid * 7 + counter) % #accounts + 1])
    end
    local name = SURNAMES[math.random(#SURNAMES)] .. GIVEN[math.random(#GIVEN)]
    if math.random(3) > 1 then name = name .. GIVEN[math.random(#GIVEN)] end
    local body = string.format(
      '{%s"name":"%s","title":"采购经理","department":"采购部",' ..
      '"mobile":"+86199%08d","email":"bench.%d.%d.%d@load.test",' ..
      '"consent_sms":true,"notes":"created by wrk","tags":["bench"]}',
      account, name, n % 100000000, nonce, tid, counter)
    return wrk.format(nil, nil, nil, body)
  end
  if #paths > 0 then
    return wrk.format(nil, paths[(tid * 997 + counter) % #paths + 1])
  end
  return wrk.format()
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local st = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do st[tostring(k)] = (st[tostring(k)] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(st) do table.insert(parts, string.format('"%s":%d', k, v)) end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"rps":%.2f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
    '"p99_ms":%.3f,"max_ms":%.3f,"socket_errors":%d,"status_counts":{%s}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ",")))
end
