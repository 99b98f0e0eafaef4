"""The Lua scripts of the Redis counters: the same rules as `memory.py`, each run atomically by
Redis in one round trip. Budget counters are hashes:

    s   spend (calendar: the period's; rolling: the sum of the live buckets b<index>)
    sl  rolling: the oldest bucket that may still hold spend
    r   reserved by requests in flight (the sum of the per-minute leases m<minute>)
    rl  the oldest lease minute still counted
    c   when the counter was created (ms), i: seeded from the ledger
"""

from __future__ import annotations

# Drop the fields <prefix><index> below new_lo from the running total; gaps longer than 256 are
# swept with HKEYS instead of walking every index.
_EXPIRE = """
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
      local f = prefix .. i
      local v = redis.call('HGET', k, f)
      if v then
        gone = gone + tonumber(v)
        redis.call('HDEL', k, f)
      end
    end
  end
  if gone ~= 0 then redis.call('HINCRBY', k, total, -gone) end
  redis.call('HSET', k, lo_field, new_lo)
end

local function housekeep(k, bucket_s, nb, now_s, minute, lease)
  if bucket_s > 0 then expire(k, 'b', 's', 'sl', math.floor(now_s / bucket_s) - nb + 1) end
  expire(k, 'm', 'r', 'rl', minute - lease)
end

local function num(v)
  if v then return tonumber(v) end
  return 0
end
"""

# KEYS: (current, previous) window key per rate slot, then one hash per budget slot.
# ARGV: R, B, cost, now_ms, lease minutes; per rate slot: limit, cost, elapsed_ms, window_ms;
#       per budget slot: amount, hard (1/0), bucket_s, buckets, expire_at.
# Returns: ok, refused index, (previous, current) per rate slot, then per budget slot
#          spent, reserved, seeded, created_ms, oldest bucket.
ADMIT = (
    _EXPIRE
    + """
local R, B = tonumber(ARGV[1]), tonumber(ARGV[2])
local cost, now_ms, lease = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now_s, minute = math.floor(now_ms / 1000), math.floor(now_ms / 60000)
local out = {1, -1}
for i = 1, R do
  local a = 5 + (i - 1) * 4
  local limit, rcost = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local elapsed, win = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local cur = num(redis.call('GET', KEYS[2 * i - 1]))
  local prev = num(redis.call('GET', KEYS[2 * i]))
  local used = math.floor(prev * (win - elapsed) / win) + cur
  if out[1] == 1 and (used >= limit or used + rcost > limit) then
    out[1], out[2] = 0, i - 1
  end
  table.insert(out, prev)
  table.insert(out, cur)
end
local base = 5 + R * 4
for j = 1, B do
  local k = KEYS[2 * R + j]
  local a = base + (j - 1) * 5
  local amount, hard = tonumber(ARGV[a + 1]), ARGV[a + 2] == '1'
  housekeep(k, tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), now_s, minute, lease)
  local v = redis.call('HMGET', k, 's', 'r', 'i', 'c', 'sl')
  local spent, reserved = num(v[1]), num(v[2])
  local created = now_ms
  if v[4] then created = tonumber(v[4]) end
  local seeded = 0
  if v[3] then seeded = 1 end
  if out[1] == 1 and hard and (spent + reserved >= amount or spent + reserved + cost > amount) then
    out[1], out[2] = 0, R + j - 1
  end
  table.insert(out, spent)
  table.insert(out, reserved)
  table.insert(out, seeded)
  table.insert(out, created)
  table.insert(out, num(v[5]))
end
if out[1] == 0 then return out end
for i = 1, R do
  local a = 5 + (i - 1) * 4
  local rcost, win = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 4])
  if rcost > 0 then
    redis.call('INCRBY', KEYS[2 * i - 1], rcost)
    redis.call('PEXPIRE', KEYS[2 * i - 1], 2 * win + 5000)
  end
end
for j = 1, B do
  local k = KEYS[2 * R + j]
  local a = base + (j - 1) * 5
  local bucket_s, nb = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  redis.call('HSETNX', k, 'c', now_ms)
  redis.call('HSETNX', k, 'rl', minute - lease)
  if bucket_s > 0 then redis.call('HSETNX', k, 'sl', math.floor(now_s / bucket_s) - nb + 1) end
  if cost > 0 then
    redis.call('HINCRBY', k, 'r', cost)
    redis.call('HINCRBY', k, 'm' .. minute, cost)
  end
  redis.call('EXPIREAT', k, tonumber(ARGV[a + 5]))
end
return out
"""
)

# KEYS: token window keys to correct, then one hash per budget slot.
# ARGV: T, B, reserved, actual, lease minute, now_ms, lease minutes, token delta;
#       per budget slot: bucket_s, buckets, expire_at, marks prefix, alert count,
#       then (percent, threshold) per alert.
# Returns per budget slot: spent, crossed count, crossed percents...
SETTLE = (
    _EXPIRE
    + """
local T, B = tonumber(ARGV[1]), tonumber(ARGV[2])
local reserved, actual = tonumber(ARGV[3]), tonumber(ARGV[4])
local lm, now_ms, lease = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local delta = tonumber(ARGV[8])
local now_s, minute = math.floor(now_ms / 1000), math.floor(now_ms / 60000)
if delta ~= 0 then
  for i = 1, T do
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], delta) end
  end
end
local out = {}
local p = 9
for j = 1, B do
  local k = KEYS[T + j]
  local bucket_s, nb, exp = tonumber(ARGV[p]), tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
  local marks, na = ARGV[p + 3], tonumber(ARGV[p + 4])
  p = p + 5
  housekeep(k, bucket_s, nb, now_s, minute, lease)
  local rl = tonumber(redis.call('HGET', k, 'rl'))
  if reserved > 0 and rl ~= nil and lm >= rl then
    redis.call('HINCRBY', k, 'r', -reserved)
    if redis.call('HINCRBY', k, 'm' .. lm, -reserved) <= 0 then redis.call('HDEL', k, 'm' .. lm) end
  end
  local spent
  if actual > 0 then
    redis.call('HSETNX', k, 'c', now_ms)
    if bucket_s > 0 then
      local bucket = math.floor(now_s / bucket_s)
      redis.call('HSETNX', k, 'sl', bucket - nb + 1)
      redis.call('HINCRBY', k, 'b' .. bucket, actual)
    end
    spent = redis.call('HINCRBY', k, 's', actual)
    redis.call('EXPIREAT', k, exp)
  else
    spent = num(redis.call('HGET', k, 's'))
  end
  table.insert(out, spent)
  local crossed = {}
  for q = 1, na do
    local pct, threshold = ARGV[p], tonumber(ARGV[p + 1])
    p = p + 2
    if spent >= threshold and redis.call('SET', marks .. ':' .. pct, '1', 'NX', 'EXAT', exp) then
      table.insert(crossed, tonumber(pct))
    end
  end
  table.insert(out, #crossed)
  for _, pct in ipairs(crossed) do table.insert(out, pct) end
end
return out
"""
)

# KEYS: one hash per budget slot. ARGV: now_ms, lease minutes; per slot: bucket_s, buckets.
# Returns per slot: spent, reserved, seeded, created_ms, oldest bucket.
PEEK = (
    _EXPIRE
    + """
local now_ms, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local now_s, minute = math.floor(now_ms / 1000), math.floor(now_ms / 60000)
local out = {}
for j = 1, #KEYS do
  local k = KEYS[j]
  housekeep(k, tonumber(ARGV[1 + 2 * j]), tonumber(ARGV[2 + 2 * j]), now_s, minute, lease)
  local v = redis.call('HMGET', k, 's', 'r', 'i', 'c', 'sl')
  local created = now_ms
  if v[4] then created = tonumber(v[4]) end
  local seeded = 0
  if v[3] then seeded = 1 end
  table.insert(out, num(v[1]))
  table.insert(out, num(v[2]))
  table.insert(out, seeded)
  table.insert(out, created)
  table.insert(out, num(v[5]))
end
return out
"""
)

# KEYS[1]: a budget hash. ARGV: now_ms, bucket_s, buckets, expire_at, add (1/0), then
# (bucket, amount) pairs. Returns 1 when the amounts were added.
SEED = """
local k = KEYS[1]
local now_ms, bucket_s, nb = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local exp, add = tonumber(ARGV[4]), ARGV[5] == '1'
if redis.call('HSETNX', k, 'i', '1') == 0 and not add then return 0 end
redis.call('HSETNX', k, 'c', now_ms)
redis.call('HSETNX', k, 'rl', math.floor(now_ms / 60000))
local lo = 0
if bucket_s > 0 then
  redis.call('HSETNX', k, 'sl', math.floor(now_ms / 1000 / bucket_s) - nb + 1)
  lo = tonumber(redis.call('HGET', k, 'sl'))
end
local total = 0
for i = 6, #ARGV, 2 do
  local b, amount = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if bucket_s == 0 then
    total = total + amount
  elseif b >= lo then
    redis.call('HINCRBY', k, 'b' .. b, amount)
    total = total + amount
  end
end
if total ~= 0 then redis.call('HINCRBY', k, 's', total) end
redis.call('EXPIREAT', k, exp)
return 1
"""

__all__ = ["ADMIT", "PEEK", "SEED", "SETTLE"]
