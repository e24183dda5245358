/**
 * Lua scripts run atomically by Redis. Every key of one breaker shares the hash tag `{prefix:name}`,
 * so each script touches one Cluster slot. Times come from the server's clock (`TIME`), which every
 * replica shares.
 */

const NOW = `
local function clock()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
`;

/**
 * Distinct replicas that reported failures within the window; older reports, and fields that are not
 * a report, are dropped.
 */
const REPORTERS = `
local function reporters(key, now, windowMs)
  local all = redis.call('HGETALL', key)
  local count = 0
  for i = 1, #all, 2 do
    local at = tonumber(all[i + 1])
    if not at or at < now - windowMs then redis.call('HDEL', key, all[i]) else count = count + 1 end
  end
  return count
end
`;

/**
 * The stored round and state of a breaker; the state is nil when none is stored (a Redis restarted
 * empty, an expired key). Stored values are input like any other: a round that is not a whole number
 * within bounds, or a state that is not one, reads as no stored state at all, so the next change
 * overwrites it.
 */
const STORED = `
local STATES = { closed = true, open = true, ['half-open'] = true, ['forced-open'] = true, disabled = true }
local function stored(key)
  local values = redis.call('HMGET', key, 'round', 'state')
  local round = tonumber(values[1])
  local state = values[2]
  if not round or round ~= math.floor(round) or round < 0 or round > ${2 ** 50} or not STATES[state] then
    return 0, nil
  end
  return round, state
end
`;

/**
 * Stores a replica's state change and publishes it, if it is newer than the shared one and fits it.
 * The round is also kept under a key of its own, so that a reconciliation reads many in one command.
 * KEYS: state, reporters, counts, probes, round. ARGV: json, round, state, reason, quorum, windowMs,
 * ttlMs, channel. Returns 1 when shared, 0 when kept local.
 */
export const PUBLISH_STATE = `${NOW}${REPORTERS}${STORED}
local round = tonumber(ARGV[2])
local state = ARGV[3]
local reason = ARGV[4]
local storedRound, storedState = stored(KEYS[1])
if round <= storedRound then return 0 end
local manual = reason == 'force-open' or reason == 'reset' or reason == 'disable'
if not manual then
  if state == 'open' then
    -- Opening a closed fleet takes a quorum of replicas that saw failures; reopening does not.
    local quorum = tonumber(ARGV[5])
    local fromClosed = storedState == 'closed' or storedState == nil
    if quorum > 1 and fromClosed and reporters(KEYS[2], clock(), tonumber(ARGV[6])) < quorum then
      return 0
    end
  elseif state == 'half-open' then
    -- With nothing stored, the replica's own open period stands for the fleet's.
    if storedState ~= nil and storedState ~= 'open' and storedState ~= 'half-open' then return 0 end
  elseif state == 'closed' then
    if storedState == 'closed' then return 0 end
  end
end
redis.call('HSET', KEYS[1], 'json', ARGV[1], 'round', round, 'state', state)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('SET', KEYS[5], round, 'PX', ARGV[7])
-- Permits end with the half-open period that granted them; the half-open itself may be published
-- after some were granted, and leaves them.
if state ~= 'half-open' then redis.call('DEL', KEYS[4]) end
if state == 'closed' then redis.call('DEL', KEYS[2], KEYS[3]) end
redis.call('PUBLISH', ARGV[8], ARGV[1])
return 1
`;

/**
 * Adds batches of outcomes to the shared time windows of one or more breakers (every breaker due in a
 * round, on one Redis; one breaker a call on a Cluster, whose breakers live in different slots) and
 * applies each fleet's rate rule. The stored state is read only when a rule would fire, and the
 * reporters hash only when a quorum above 1 needs it; a window's expiry is renewed when a slice begins.
 * A breaker whose keys Redis cannot work on fails alone, with -1 for its totals.
 * KEYS, per breaker: counts, reporters, state, probes, round.
 * ARGV: replica, ttlMs, channel, quorum, then per breaker: calls, failures, slow, sliceMs, buckets,
 *       name, minimumCalls, failureRate (-1: off), slowRate (-1: off), openMs.
 * Returns calls, failures, slow and opened (1 or 0) of each breaker's window, one after the other.
 */
export const REPORT = `${NOW}${REPORTERS}${STORED}
local now = clock()
local replica = ARGV[1]
local ttl = ARGV[2]
local channel = ARGV[3]
local quorum = tonumber(ARGV[4])

local function report(b)
  local countsKey, reportersKey, stateKey, probesKey, roundKey =
    KEYS[b * 5 + 1], KEYS[b * 5 + 2], KEYS[b * 5 + 3], KEYS[b * 5 + 4], KEYS[b * 5 + 5]
  local a = 4 + b * 10
  local calls = tonumber(ARGV[a + 1])
  local failures = tonumber(ARGV[a + 2])
  local slow = tonumber(ARGV[a + 3])
  local sliceMs = tonumber(ARGV[a + 4])
  local buckets = tonumber(ARGV[a + 5])
  local slice = math.floor(now / sliceMs)
  -- A slice's first count renews the window's expiry, which outlasts the window; every count does when
  -- the expiry is shorter than the window.
  local created = redis.call('HINCRBY', countsKey, slice .. ':c', calls) == calls
  if created or tonumber(ttl) <= sliceMs * (buckets + 1) then redis.call('PEXPIRE', countsKey, ttl) end
  if failures > 0 then
    redis.call('HINCRBY', countsKey, slice .. ':f', failures)
    -- Which replicas saw failures matters only to a quorum.
    if quorum > 1 then redis.call('HSET', reportersKey, replica, now) end
  end
  if slow > 0 then redis.call('HINCRBY', countsKey, slice .. ':s', slow) end
  local totals = { c = 0, f = 0, s = 0 }
  local all = redis.call('HGETALL', countsKey)
  for i = 1, #all, 2 do
    local field = all[i]
    local at = string.find(field, ':', 1, true)
    local fieldSlice = at and tonumber(string.sub(field, 1, at - 1))
    local kind = at and string.sub(field, at + 1)
    local count = tonumber(all[i + 1])
    if not fieldSlice or not count or not totals[kind] or fieldSlice <= slice - buckets or fieldSlice > slice then
      redis.call('HDEL', countsKey, field)
    else
      totals[kind] = totals[kind] + count
    end
  end
  local count = 1
  if quorum > 1 then
    count = reporters(reportersKey, now, sliceMs * buckets)
    redis.call('PEXPIRE', reportersKey, ttl)
  end
  local failureRate = tonumber(ARGV[a + 8])
  local slowRate = tonumber(ARGV[a + 9])
  local reason = nil
  if totals.c >= tonumber(ARGV[a + 7]) and count >= quorum then
    if failureRate >= 0 and totals.f * 100 >= failureRate * totals.c then reason = 'failure-rate'
    elseif slowRate >= 0 and totals.s * 100 >= slowRate * totals.c then reason = 'slow-call-rate' end
  end
  local opened = 0
  if reason then
    local storedRound, storedState = stored(stateKey)
    if storedState == 'closed' or storedState == nil then
      local round = storedRound + 1
      local json = cjson.encode({ version = 1, name = ARGV[a + 6], state = 'open', round = round,
        openedAt = now, openUntil = now + tonumber(ARGV[a + 10]), trips = 1, reason = reason, origin = 'redis' })
      redis.call('HSET', stateKey, 'json', json, 'round', round, 'state', 'open')
      redis.call('PEXPIRE', stateKey, ttl)
      redis.call('SET', roundKey, round, 'PX', ttl)
      redis.call('DEL', countsKey, reportersKey, probesKey)
      redis.call('PUBLISH', channel, json)
      opened = 1
    end
  end
  return { totals.c, totals.f, totals.s, opened }
end

local out = {}
for b = 0, #KEYS / 5 - 1 do
  -- A breaker whose keys hold what this store never writes (a string where a hash belongs) fails alone.
  local ok, result = pcall(report, b)
  if not ok then result = { -1, -1, -1, 0 } end
  for _, value in ipairs(result) do out[#out + 1] = value end
end
return out
`;

/**
 * Takes one of the fleet's half-open trial permits, if one is free; permits expire on their own. A
 * refusal, the common answer while a trial runs, only counts the permits that have not expired; expired
 * ones are dropped when a permit is taken.
 * KEYS: probes. ARGV: permit id, limit, ttlMs. Returns 1 when taken.
 */
export const ACQUIRE_PROBE = `${NOW}
local now = clock()
if redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') >= tonumber(ARGV[2]) then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
return 1
`;
