/**
 * The store's Lua scripts. Each runs atomically on the Redis server, touches only the keys it is given
 * (declared in KEYS, never built inside the script: Cluster and proxies route by them) and reads the
 * time from the server (`TIME`), so that every process agrees on due times and lease expiries whatever
 * its own clock says. All keys of a call share the hash tag `{ns:p}` (one Cluster slot). Layout: see
 * `keys.ts`. Needs Redis >= 6.2 (`ZADD LT`), or Valkey.
 * @module
 */
import { createHash } from 'node:crypto';

/** A script, with the SHA1 that `EVALSHA` runs it by. */
export interface Script {
  /** What it does, for error messages. */
  readonly name: string;
  /** The Lua source. */
  readonly source: string;
  /** SHA1 of the source, hex. */
  readonly sha: string;
}

function script(name: string, body: string): Script {
  const source = `${PRELUDE}\n${body}`;
  return Object.freeze({ name, source, sha: createHash('sha1').update(source).digest('hex') });
}

// Shared by every script: the server's clock in ms, and the claim record of a member.
// A claim record is `fence attempt lost released batchId`: `lost` counts the deliveries whose lease
// ran out (the holder died or stalled), `released` is 1 when the holder gave the batch back.
const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function read_claim(meta, member)
  local record = redis.call('HGET', meta, member)
  if not record then return nil end
  local fence, attempt, lost, released, batch = string.match(record, '^(%d+) (%d+) (%d+) (%d+) (.*)$')
  return { fence = fence, attempt = tonumber(attempt), lost = tonumber(lost), released = tonumber(released), batch = batch }
end
local function write_claim(meta, member, c)
  redis.call('HSET', meta, member, c.fence .. ' ' .. c.attempt .. ' ' .. c.lost .. ' ' .. c.released .. ' ' .. c.batch)
end`;

/**
 * How long Redis keeps a writer's record of its last append call (see {@link APPEND}), in ms: a call
 * whose reply was lost and that could not be sent again for this long (Redis unreachable all along)
 * may append its items a second time. Every call sets it again.
 */
export const WRITE_RECORD_TTL_MS = 24 * 60 * 60 * 1000;

/** Reply bits of {@link APPEND}. */
export const APPEND_OPENED = 1;
/** Reply bit of {@link APPEND}: the key's unclaimed items reached `maxSize` with this append. */
export const APPEND_FULL = 2;

/**
 * append: the items of one round, each key's in insert order, for any number of keys: of one
 * partition on a Cluster (one hash tag, one slot), of every partition on a single server. One call
 * per round rather than per key: node-redis writes one command per turn of the event loop once its
 * socket buffer is full (16 KB), so a round of a hundred keys in a hundred calls took a hundred turns
 * of a busy loop, and its items piled up in the process meanwhile; a call also costs the client a
 * promise and a timeout, and the server a script run.
 *
 * Idempotent per call: a call whose reply was lost (a client-side command timeout, a dropped
 * connection) may have run, and the writer sends it again, unchanged, under the same number. Each
 * writer numbers its calls (1, 2, 3, …) and the call records its number, with its reply, in the
 * writer's record key of the hash tag (kept {@link WRITE_RECORD_TTL_MS}); a call whose number is not
 * above the recorded one ran already and appends nothing. A writer has one call per hash tag out at a
 * time, and sends a failed one again before any newer one: numbers reach a record in order.
 * KEYS: the writer's record key, then per key its items list and its partition's due set.
 * ARGV: interval (ms), maxSize (0: none), the call's number, the record's time to live (ms), then per
 * key, in KEYS order: member, count, and its `count` values.
 * Reply: `{repeated, ...}`: `repeated` is 1 when the call had run already (the rest is then the reply
 * it gave then), else 0; then per key {@link APPEND_OPENED} when its items opened a batch (the list was
 * empty: it falls due `interval` ms from now), plus {@link APPEND_FULL} when its list reached
 * `maxSize` (due now).
 */
export const APPEND = script(
  'append',
  `
local record, number = KEYS[1], tonumber(ARGV[3])
local done = redis.call('GET', record)
if done then
  local last, replied = string.match(done, '^(%d+) (.*)$')
  if tonumber(last) >= number then
    local replies = { 1 }
    if tonumber(last) == number then
      for reply in string.gmatch(replied, '%d+') do replies[#replies + 1] = tonumber(reply) end
    end
    return replies
  end
end
local interval, max_size = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_ms()
local replies = { 0 }
local at = 5
for k = 2, #KEYS, 2 do
  local items, due = KEYS[k], KEYS[k + 1]
  local member, count = ARGV[at], tonumber(ARGV[at + 1])
  local first, last = at + 2, at + 1 + count
  local length = 0
  -- In slices: unpack puts every value on Lua's stack, which holds a few thousand.
  for i = first, last, 1000 do
    length = redis.call('RPUSH', items, unpack(ARGV, i, math.min(i + 999, last)))
  end
  local reply = 0
  if length == count then
    -- NX: a schedule that exists already (it should not, with an empty list) is not pushed back.
    redis.call('ZADD', due, 'NX', now + interval, member)
    reply = ${APPEND_OPENED}
  end
  if max_size > 0 and length >= max_size and length - count < max_size then
    -- LT: only ever brings the due time forward.
    redis.call('ZADD', due, 'LT', now, member)
    reply = reply + ${APPEND_FULL}
  end
  replies[#replies + 1] = reply
  at = last + 1
end
redis.call('SET', record, ARGV[3] .. ' ' .. table.concat(replies, ',', 2), 'PX', ARGV[4])
return replies`,
);

/**
 * due: the partition's keys to claim now.
 * KEYS: due, lease. ARGV: limit.
 * Reply: `{nextIn, member...}`: members whose lease ran out (their batch is delivered again) first,
 * then members whose unclaimed items are due and that hold no live lease (a leased key is never
 * claimed again: per-key order), at most `limit` in all; `nextIn` is ms until the next one falls due
 * (0 when more are due now, -1 when nothing is scheduled).
 */
export const DUE = script(
  'due',
  `
local limit = tonumber(ARGV[1])
local now = now_ms()
local out = { 0 }
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)) do
  out[#out + 1] = member
end
-- Leased members may sit among the due ones: read past as many as there are leases.
local leased = redis.call('ZCARD', KEYS[2])
if #out <= limit then
  local candidates = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit - #out + 1 + leased)
  for _, member in ipairs(candidates) do
    if #out > limit then break end
    if not redis.call('ZSCORE', KEYS[2], member) then out[#out + 1] = member end
  end
end
if #out > limit then return out end
local next_in = -1
local first_lease = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if first_lease[2] then next_in = math.max(0, tonumber(first_lease[2]) - now) end
local later = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1 + leased)
for i = 1, #later, 2 do
  if not redis.call('ZSCORE', KEYS[2], later[i]) then
    local wait = tonumber(later[i + 1]) - now
    if next_in < 0 or wait < next_in then next_in = wait end
    break
  end
end
out[1] = next_in
return out`,
);

/**
 * claim: the key's batch, under a lease.
 * KEYS: items, in-flight, due, lease, meta, fence.
 * ARGV: member, maxSize (0: none), leaseMs, force (1/0), interval, partition.
 * Reply: nil when the key is leased elsewhere, has nothing, or (without force) is not due; else
 * `{fence, attempt, lost, batchId, {values...}}`.
 * - The key's lease ran out: its in-flight batch is delivered again, same batch id, attempt + 1, under
 *   a new fence (the old holder's ack is refused from now on).
 * - No lease: up to maxSize unclaimed items move to the in-flight list as a new batch. What stays is
 *   due now when it fills a batch or the claim was forced, else `interval` from now (its first item
 *   arrived after the claimed batch filled, at an instant the list does not record).
 */
export const CLAIM = script(
  'claim',
  `
local items, in_flight, due, lease, meta, fence = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local member, max_size, lease_ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local force, interval, partition = ARGV[4] == '1', tonumber(ARGV[5]), ARGV[6]
local now = now_ms()
local expires = redis.call('ZSCORE', lease, member)
if expires then
  if tonumber(expires) > now then return nil end
  local c = read_claim(meta, member)
  c.fence = redis.call('INCR', fence)
  c.attempt = c.attempt + 1
  if c.released == 1 then c.released = 0 else c.lost = c.lost + 1 end
  write_claim(meta, member, c)
  redis.call('ZADD', lease, now + lease_ms, member)
  return { c.fence, c.attempt, c.lost, c.batch, redis.call('LRANGE', in_flight, 0, -1) }
end
local due_at = redis.call('ZSCORE', due, member)
if not due_at then return nil end
if not force and tonumber(due_at) > now then return nil end
local length = redis.call('LLEN', items)
if length == 0 then
  -- A schedule without items (the list was deleted by hand): forget it.
  redis.call('ZREM', due, member)
  return nil
end
local values
if max_size == 0 or length <= max_size then
  -- The whole list is the batch: a rename moves it without copying.
  redis.call('RENAME', items, in_flight)
  redis.call('ZREM', due, member)
  values = redis.call('LRANGE', in_flight, 0, -1)
else
  values = redis.call('LRANGE', items, 0, max_size - 1)
  redis.call('LTRIM', items, max_size, -1)
  for i = 1, #values, 1000 do
    redis.call('RPUSH', in_flight, unpack(values, i, math.min(i + 999, #values)))
  end
  local rest = length - max_size
  if force or rest >= max_size then
    redis.call('ZADD', due, now, member)
  else
    redis.call('ZADD', due, now + interval, member)
  end
end
local id = redis.call('INCR', fence)
local c = { fence = id, attempt = 1, lost = 0, released = 0, batch = partition .. '-' .. id .. '-' .. now }
write_claim(meta, member, c)
redis.call('ZADD', lease, now + lease_ms, member)
return { c.fence, c.attempt, c.lost, c.batch, values }`,
);

/**
 * pending: the partition's members with unclaimed items, due or not, soonest due first.
 * KEYS: due. ARGV: limit. Reply: `{member...}`, at most `limit`.
 */
export const PENDING = script(
  'pending',
  `
return redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)`,
);

/**
 * extend: a heartbeat for a held claim.
 * KEYS: lease, meta. ARGV: member, fence, leaseMs.
 * Reply: 1 when the lease now runs `leaseMs` from now; 0 when another claim took the batch (a
 * lapsed lease that nobody claimed yet can still be extended: no one else has it).
 */
export const EXTEND = script(
  'extend',
  `
local c = read_claim(KEYS[2], ARGV[1])
if not c or c.fence ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now_ms() + tonumber(ARGV[3]), ARGV[1])
return 1`,
);

/**
 * ack: the claimed batch settled; its items leave Redis.
 * KEYS: in-flight, lease, meta. ARGV: member, fence.
 * Reply: 1, or 0 when the fence is not the key's latest (the lease was lost and the batch claimed
 * again: the items stay for the newer claim, which will deliver them once more).
 */
export const ACK = script(
  'ack',
  `
local c = read_claim(KEYS[3], ARGV[1])
if not c or c.fence ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`,
);

/**
 * release: give a held batch back now. Its lease expires at once, so that `due` offers it and the
 * next claim delivers it again (same batch id, attempt + 1); a release does not count towards
 * `maxRedeliveries`.
 * KEYS: lease, meta. ARGV: member, fence. Reply: 1, or 0 when the claim was not the latest.
 */
export const RELEASE = script(
  'release',
  `
local c = read_claim(KEYS[2], ARGV[1])
if not c or c.fence ~= ARGV[2] then return 0 end
c.released = 1
write_claim(KEYS[2], ARGV[1], c)
redis.call('ZADD', KEYS[1], 'XX', now_ms(), ARGV[1])
return 1`,
);

/**
 * config: fixes the namespace's partition count and layout on first use, and returns them, with the
 * server's eviction policy (`CONFIG GET` is not allowed in scripts; `INFO` is).
 * KEYS: config. ARGV: partitions, layout. Reply: `{partitions, layout, maxmemory-policy}`.
 */
export const CONFIG = script(
  'config',
  `
redis.call('HSETNX', KEYS[1], 'partitions', ARGV[1])
redis.call('HSETNX', KEYS[1], 'layout', ARGV[2])
local reply = redis.call('HMGET', KEYS[1], 'partitions', 'layout')
reply[3] = string.match(redis.call('INFO', 'memory'), 'maxmemory_policy:(%S+)') or ''
return reply`,
);
