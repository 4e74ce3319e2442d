"""The Lua scripts of the Redis store, each one atomic call on the server.

Kept apart from :mod:`omnimsg.stores.redis` so that the Python side reads on its own;
the layout of keys they work on is described there.
"""

__all__ = ["PUT", "RESERVE", "SCAN", "SCHEMA"]

# KEYS: records hash, the group's index. ARGV: record key, expected version ("" for
# none), group, the new stored value, the prefix of this kind's group index keys.
# Returns 1 (written), 0 (another version is stored), -1 (the stored value is corrupt).
PUT = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local v, n, at = string.match(cur, '^(%d+):(%d+):()')
  if not v then return -1 end
  if v ~= ARGV[2] then return 0 end
  local old = string.sub(cur, at, at + tonumber(n) - 1)
  if old ~= ARGV[3] then redis.call('ZREM', ARGV[5] .. old, ARGV[1]) end
elseif ARGV[2] ~= '' then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
"""

# KEYS: records hash, the group's index. ARGV: the lowest key ('-' or '(' .. last
# key seen), how many. Returns key, value, key, value... (value false if missing).
SCAN = """
local keys = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], '+', 'LIMIT', 0, ARGV[2])
local out = {}
if #keys == 0 then return out end
local values = redis.call('HMGET', KEYS[1], unpack(keys))
for i = 1, #keys do
  out[2 * i - 1] = keys[i]
  out[2 * i] = values[i]
end
return out
"""

# KEYS: per reservation, its set and its expiry set. ARGV[1]: now; then six per
# reservation: member, cap (-1: none), since (live: taken after it), expires, the
# time-to-live the set needs at least (ms) and the one to give it when it has less.
# Scores are passed through as the text Python wrote, never formatted by Lua.
# Returns -1 or the 0-based index of the first refused. MemoryStore is the reference.
RESERVE = """
local now = ARGV[1]
local n = #KEYS / 2
for i = 1, n do
  local s, x, b = KEYS[2 * i - 1], KEYS[2 * i], 6 * i - 4
  local dead = redis.call('ZRANGEBYSCORE', x, '-inf', now)
  if #dead > 0 then
    for j = 1, #dead, 1000 do
      redis.call('ZREM', s, unpack(dead, j, math.min(j + 999, #dead)))
    end
    redis.call('ZREMRANGEBYSCORE', x, '-inf', now)
  end
  local cap = tonumber(ARGV[b + 1])
  if cap >= 0 then
    local since = tonumber(ARGV[b + 2])
    local at = redis.call('ZSCORE', s, ARGV[b])
    if not (at and tonumber(at) > since) then
      local taken = redis.call('ZCOUNT', s, '(' .. ARGV[b + 2], '+inf')
      for j = 1, i - 1 do
        if KEYS[2 * j - 1] == s then
          local other = redis.call('ZSCORE', s, ARGV[6 * j - 4])
          if not (other and tonumber(other) > since) then taken = taken + 1 end
        end
      end
      if taken >= cap then return i - 1 end
    end
  end
end
for i = 1, n do
  local s, x, b = KEYS[2 * i - 1], KEYS[2 * i], 6 * i - 4
  if redis.call('ZADD', s, 'GT', 'CH', now, ARGV[b]) == 1 then
    redis.call('ZADD', x, 'GT', ARGV[b + 3], ARGV[b])
  end
  if redis.call('PTTL', s) < tonumber(ARGV[b + 4]) then
    redis.call('PEXPIRE', s, ARGV[b + 5])
    redis.call('PEXPIRE', x, ARGV[b + 5])
  end
end
return -1
"""

# KEYS: the schema_version key. ARGV: this version. Returns the stored one.
SCHEMA = """
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
"""
