"""The Lua scripts of the Redis counters: the same rules as `memory.py`, each run atomically by
Redis in one round trip. Budget counters are hashes:

    s   spend (calendar: the period's; rolling: the sum of the live buckets b<index>)
    sl  rolling: the oldest bucket that may still hold spend
    r   reserved by requests in flight (the sum of the per-minute leases m<minute>)
    rl  the oldest lease minute still counted
    c   when the counter was created (ms), i: seeded from the ledger
"""

from __future__ import annotations

# Shared helpers. Numbers travel packed in one comma-separated argument and come back the same
# way (one string each way instead of dozens of protocol elements: the client's encoding and
# parsing dominate a call's cost otherwise). Numbers written back to Redis are formatted as
# integers explicitly (Lua would write large ones in exponent notation).
_COMMON = """
local function int(x) return string.format('%.0f', x) end

local function unpack_args(s)
  local a = {}
  for v in string.gmatch(s, '[^,]+') do a[#a + 1] = tonumber(v) end
  return a
end

local function num(v)
  if v then return tonumber(v) end
  return 0
end

-- Drop the fields <prefix><index> below new_lo from the running total; gaps longer than 256 are
-- swept with HKEYS instead of walking every index.
local function expire(k, prefix, total, lo_field, new_lo)
  local lo = tonumber(redis.call('HGET', k, lo_field))
  if lo == nil or lo >= new_lo then return end
  local gone = 0
  if new_lo - lo > 256 then
    local fields = redis.call('HKEYS', k)
    for _, f in ipairs(fields) do
      if string.sub(f, 1, 1) == prefix then
        local i = tonumber(string.sub(f, 2))
        if i ~= nil and i < new_lo then
          gone = gone + tonumber(redis.call('HGET', k, f))
          redis.call('HDEL', k, f)
        end
      end
    end
  else
    for i = lo, new_lo - 1 do
      local f = prefix .. int(i)
      local v = redis.call('HGET', k, f)
      if v then
        gone = gone + tonumber(v)
        redis.call('HDEL', k, f)
      end
    end
  end
  if gone ~= 0 then redis.call('HINCRBY', k, total, int(-gone)) end
  redis.call('HSET', k, lo_field, int(new_lo))
end

local function housekeep(k, bucket_s, nb, now_s, minute, lease)
  if bucket_s > 0 then expire(k, 'b', 's', 'sl', math.floor(now_s / bucket_s) - nb + 1) end
  expire(k, 'm', 'r', 'rl', minute - lease)
end

local function state(k, now_ms, out)
  local v = redis.call('HMGET', k, 's', 'r', 'i', 'c', 'sl')
  local created = now_ms
  if v[4] then created = tonumber(v[4]) end
  local seeded = 0
  if v[3] then seeded = 1 end
  out[#out + 1] = int(num(v[1]))
  out[#out + 1] = int(num(v[2]))
  out[#out + 1] = seeded
  out[#out + 1] = int(created)
  out[#out + 1] = int(num(v[5]))
  return num(v[1]), num(v[2])
end
"""

# KEYS: (current, previous) window key per rate slot, then one hash per budget slot.
# ARGV[1]: R, B, cost, now_ms, lease minutes; per rate slot: limit, cost, elapsed_ms, window_ms;
#          per budget slot: amount, hard (1/0), bucket_s, buckets, expire_at.
# Returns: ok, refused index, (previous, current) per rate slot, then per budget slot
#          spent, reserved, seeded, created_ms, oldest bucket.
ADMIT = (
    _COMMON
    + """
local a = unpack_args(ARGV[1])
local R, B, cost, now_ms, lease = a[1], a[2], a[3], a[4], a[5]
local now_s, minute = math.floor(now_ms / 1000), math.floor(now_ms / 60000)
local ok, refused = 1, -1
local out = {}
for i = 1, R do
  local p = 5 + (i - 1) * 4
  local limit, rcost, elapsed, win = a[p + 1], a[p + 2], a[p + 3], a[p + 4]
  local cur = num(redis.call('GET', KEYS[2 * i - 1]))
  local prev = num(redis.call('GET', KEYS[2 * i]))
  local used = math.floor(prev * (win - elapsed) / win) + cur
  if ok == 1 and (used >= limit or used + rcost > limit) then ok, refused = 0, i - 1 end
  out[#out + 1] = int(prev)
  out[#out + 1] = int(cur)
end
local base = 5 + R * 4
for j = 1, B do
  local k = KEYS[2 * R + j]
  local p = base + (j - 1) * 5
  local amount, hard = a[p + 1], a[p + 2] == 1
  housekeep(k, a[p + 3], a[p + 4], now_s, minute, lease)
  local spent, reserved = state(k, now_ms, out)
  if ok == 1 and hard and (spent + reserved >= amount or spent + reserved + cost > amount) then
    ok, refused = 0, R + j - 1
  end
end
if ok == 1 then
  for i = 1, R do
    local p = 5 + (i - 1) * 4
    local rcost, win = a[p + 2], a[p + 4]
    if rcost > 0 then
      redis.call('INCRBY', KEYS[2 * i - 1], int(rcost))
      redis.call('PEXPIRE', KEYS[2 * i - 1], int(2 * win + 5000))
    end
  end
  for j = 1, B do
    local k = KEYS[2 * R + j]
    local p = base + (j - 1) * 5
    local bucket_s, nb = a[p + 3], a[p + 4]
    redis.call('HSETNX', k, 'c', int(now_ms))
    redis.call('HSETNX', k, 'rl', int(minute - lease))
    if bucket_s > 0 then
      redis.call('HSETNX', k, 'sl', int(math.floor(now_s / bucket_s) - nb + 1))
    end
    if cost > 0 then
      redis.call('HINCRBY', k, 'r', int(cost))
      redis.call('HINCRBY', k, 'm' .. int(minute), int(cost))
    end
    redis.call('EXPIREAT', k, int(a[p + 5]))
  end
end
return ok .. ',' .. refused .. ',' .. table.concat(out, ',')
"""
)

# KEYS: token window keys to correct, then one hash per budget slot.
# ARGV[1]: T, B, reserved, actual, lease minute, now_ms, lease minutes, token delta;
#          per budget slot: bucket_s, buckets, expire_at, alert count, (percent, threshold)...
# ARGV[2]: the key prefix (threshold marks are <prefix>bt:<counter>:<percent>).
# Returns per budget slot: spent, crossed count, crossed percents...
SETTLE = (
    _COMMON
    + """
local a = unpack_args(ARGV[1])
local prefix = ARGV[2]
local T, B, reserved, actual = a[1], a[2], a[3], a[4]
local lm, now_ms, lease, delta = a[5], a[6], a[7], a[8]
local now_s, minute = math.floor(now_ms / 1000), math.floor(now_ms / 60000)
if delta ~= 0 then
  for i = 1, T do
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], int(delta)) end
  end
end
local out = {}
local p = 9
for j = 1, B do
  local k = KEYS[T + j]
  local bucket_s, nb, exp, na = a[p], a[p + 1], a[p + 2], a[p + 3]
  p = p + 4
  housekeep(k, bucket_s, nb, now_s, minute, lease)
  local rl = tonumber(redis.call('HGET', k, 'rl'))
  if reserved > 0 and rl ~= nil and lm >= rl then
    redis.call('HINCRBY', k, 'r', int(-reserved))
    local f = 'm' .. int(lm)
    if redis.call('HINCRBY', k, f, int(-reserved)) <= 0 then redis.call('HDEL', k, f) end
  end
  local spent
  if actual > 0 then
    redis.call('HSETNX', k, 'c', int(now_ms))
    if bucket_s > 0 then
      local bucket = math.floor(now_s / bucket_s)
      redis.call('HSETNX', k, 'sl', int(bucket - nb + 1))
      redis.call('HINCRBY', k, 'b' .. int(bucket), int(actual))
    end
    spent = redis.call('HINCRBY', k, 's', int(actual))
    redis.call('EXPIREAT', k, int(exp))
  else
    spent = num(redis.call('HGET', k, 's'))
  end
  out[#out + 1] = int(spent)
  local crossed = {}
  local marks = prefix .. 'bt:' .. string.sub(k, #prefix + 3) .. ':'
  for q = 1, na do
    local pct, threshold = a[p], a[p + 1]
    p = p + 2
    if spent >= threshold
        and redis.call('SET', marks .. int(pct), '1', 'NX', 'EXAT', int(exp)) then
      crossed[#crossed + 1] = int(pct)
    end
  end
  out[#out + 1] = #crossed
  for _, pct in ipairs(crossed) do out[#out + 1] = pct end
end
return table.concat(out, ',')
"""
)

# KEYS: one hash per budget slot. ARGV[1]: now_ms, lease minutes; per slot: bucket_s, buckets.
# Returns per slot: spent, reserved, seeded, created_ms, oldest bucket.
PEEK = (
    _COMMON
    + """
local a = unpack_args(ARGV[1])
local now_ms, lease = a[1], a[2]
local now_s, minute = math.floor(now_ms / 1000), math.floor(now_ms / 60000)
local out = {}
for j = 1, #KEYS do
  housekeep(KEYS[j], a[1 + 2 * j], a[2 + 2 * j], now_s, minute, lease)
  state(KEYS[j], now_ms, out)
end
return table.concat(out, ',')
"""
)

# KEYS[1]: a budget hash. ARGV[1]: now_ms, bucket_s, buckets, expire_at, add (1/0), then
# (bucket, amount) pairs. Returns 1 when the amounts were added.
SEED = (
    _COMMON
    + """
local k = KEYS[1]
local a = unpack_args(ARGV[1])
local now_ms, bucket_s, nb, exp, add = a[1], a[2], a[3], a[4], a[5] == 1
if redis.call('HSETNX', k, 'i', '1') == 0 and not add then return 0 end
redis.call('HSETNX', k, 'c', int(now_ms))
redis.call('HSETNX', k, 'rl', int(math.floor(now_ms / 60000)))
local lo = 0
if bucket_s > 0 then
  redis.call('HSETNX', k, 'sl', int(math.floor(now_ms / 1000 / bucket_s) - nb + 1))
  lo = tonumber(redis.call('HGET', k, 'sl'))
end
local total = 0
for i = 6, #a, 2 do
  local b, amount = a[i], a[i + 1]
  if bucket_s == 0 then
    total = total + amount
  elseif b >= lo then
    redis.call('HINCRBY', k, 'b' .. int(b), int(amount))
    total = total + amount
  end
end
if total ~= 0 then redis.call('HINCRBY', k, 's', int(total)) end
redis.call('EXPIREAT', k, int(exp))
return 1
"""
)

__all__ = ["ADMIT", "PEEK", "SEED", "SETTLE"]
