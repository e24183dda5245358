/**
 * Lua scripts run atomically by Redis. Every key of one breaker shares the hash tag `{prefix:name}`,
 * so each script touches one Cluster slot. Times come from the server's clock (`TIME`), which every
 * replica shares.
 */

const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
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
 * KEYS: state, reporters, counts, probes. ARGV: json, round, state, reason, quorum, windowMs, ttlMs, channel.
 * Returns 1 when shared, 0 when kept local.
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
    if quorum > 1 and fromClosed and reporters(KEYS[2], now, tonumber(ARGV[6])) < quorum then
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
-- Permits end with the half-open period that granted them; the half-open itself may be published
-- after some were granted, and leaves them.
if state ~= 'half-open' then redis.call('DEL', KEYS[4]) end
if state == 'closed' then redis.call('DEL', KEYS[2], KEYS[3]) end
redis.call('PUBLISH', ARGV[8], ARGV[1])
return 1
`;

/**
 * Adds one replica's batch of outcomes to the shared time window and applies the fleet's rate rule;
 * the reporters hash is read and written only when a quorum above 1 needs it.
 * KEYS: counts, reporters, state, probes.
 * ARGV: calls, failures, slow, replica, sliceMs, buckets, ttlMs, channel, name, minimumCalls,
 *       failureRate (-1: off), slowRate (-1: off), quorum, openMs.
 * Returns { calls, failures, slow, opened }.
 */
export const REPORT = `${NOW}${REPORTERS}${STORED}
local sliceMs = tonumber(ARGV[5])
local buckets = tonumber(ARGV[6])
local slice = math.floor(now / sliceMs)
local failures = tonumber(ARGV[2])
local slow = tonumber(ARGV[3])
local quorum = tonumber(ARGV[13])
redis.call('HINCRBY', KEYS[1], slice .. ':c', tonumber(ARGV[1]))
if failures > 0 then
  redis.call('HINCRBY', KEYS[1], slice .. ':f', failures)
  -- Which replicas saw failures matters only to a quorum.
  if quorum > 1 then redis.call('HSET', KEYS[2], ARGV[4], now) end
end
if slow > 0 then redis.call('HINCRBY', KEYS[1], slice .. ':s', slow) end
local totals = { c = 0, f = 0, s = 0 }
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local field = all[i]
  local at = string.find(field, ':', 1, true)
  local fieldSlice = at and tonumber(string.sub(field, 1, at - 1))
  local kind = at and string.sub(field, at + 1)
  local count = tonumber(all[i + 1])
  if not fieldSlice or not count or not totals[kind] or fieldSlice <= slice - buckets or fieldSlice > slice then
    redis.call('HDEL', KEYS[1], field)
  else
    totals[kind] = totals[kind] + count
  end
end
local count = 1
if quorum > 1 then
  count = reporters(KEYS[2], now, sliceMs * buckets)
  redis.call('PEXPIRE', KEYS[2], ARGV[7])
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
local storedRound, storedState = stored(KEYS[3])
local minimumCalls = tonumber(ARGV[10])
local failureRate = tonumber(ARGV[11])
local slowRate = tonumber(ARGV[12])
if (storedState == 'closed' or storedState == nil) and totals.c >= minimumCalls and count >= quorum then
  local reason = nil
  if failureRate >= 0 and totals.f * 100 >= failureRate * totals.c then reason = 'failure-rate'
  elseif slowRate >= 0 and totals.s * 100 >= slowRate * totals.c then reason = 'slow-call-rate' end
  if reason then
    local round = storedRound + 1
    local json = cjson.encode({ version = 1, name = ARGV[9], state = 'open', round = round, openedAt = now,
      openUntil = now + tonumber(ARGV[14]), trips = 1, reason = reason, origin = 'redis' })
    redis.call('HSET', KEYS[3], 'json', json, 'round', round, 'state', 'open')
    redis.call('PEXPIRE', KEYS[3], ARGV[7])
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[4])
    redis.call('PUBLISH', ARGV[8], json)
    return { totals.c, totals.f, totals.s, 1 }
  end
end
return { totals.c, totals.f, totals.s, 0 }
`;

/**
 * Takes one of the fleet's half-open trial permits, if one is free; permits expire on their own.
 * KEYS: probes. ARGV: permit id, limit, ttlMs. Returns 1 when taken.
 */
export const ACQUIRE_PROBE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
return 1
`;
