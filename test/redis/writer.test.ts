/**
 * The Redis store's write path on a scripted runner, with fake timers: rounds gather writes, a failed
 * append is sent again before newer items of its key, outages are counted and published, and a reply
 * no retry can fix stops the writer.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it, vi } from 'vitest';
import type { CallResult, ScriptCall, ScriptRunner } from '../../src/redis/client.js';
import { redisChannelNames } from '../../src/redis/diagnostics.js';
import { KeyNames } from '../../src/redis/keys.js';
import { ROUND_BYTES, ROUND_ITEMS } from '../../src/redis/pending-writes.js';
import { createRedisStoreStats } from '../../src/redis/stats.js';
import { STALLED_WRITE_MS, Writer } from '../../src/redis/writer.js';
import { deferred, useFakeTimersInEveryTest } from '../helpers.js';

useFakeTimersInEveryTest();

/** A runner whose rounds the test answers: each `runAll` waits for `answer`. */
function scriptedRunner(cluster = false) {
  const rounds: Array<{ calls: readonly ScriptCall[]; answer: (results: CallResult[]) => void }> = [];
  const runner: ScriptRunner = {
    client: 'redis',
    cluster,
    run: () => Promise.reject(new Error('not used')),
    runAll(calls) {
      const reply = deferred<CallResult[]>();
      rounds.push({ calls, answer: reply.resolve });
      return reply.promise;
    },
  };
  return { runner, rounds };
}

function writer(runner: ScriptRunner) {
  const stats = createRedisStoreStats();
  const w = new Writer({
    runner,
    names: new KeyNames('ns', 4),
    stats,
    store: {},
    namespace: 'ns',
    prepare: () => Promise.resolve(),
    forgetLayout: () => {},
    appended: () => {},
  });
  w.configure(1000, 100);
  return { w, stats };
}

/**
 * The members one append call carries, in order (its ARGV: interval, maxSize, call number, record
 * time to live, then member, count, values…).
 */
function membersOf(call: ScriptCall): string[] {
  const members: string[] = [];
  for (let at = 4; at < call.args.length; at += 2 + Number(call.args[at + 1])) members.push(call.args[at]!);
  return members;
}

/** The values the calls of a round append, per member. */
function appended(calls: readonly ScriptCall[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const call of calls) {
    for (let at = 4; at < call.args.length; ) {
      const count = Number(call.args[at + 1]);
      out[call.args[at]!] = call.args.slice(at + 2, at + 2 + count);
      at += 2 + count;
    }
  }
  return out;
}

/** Every call of a round succeeded (none had run before); each key's reply is OPENED. */
const ok = (calls: readonly ScriptCall[]): CallResult[] =>
  calls.map((call) => ({ ok: true, value: [0, ...membersOf(call).map(() => 1)] }));
const connectionLost = Object.assign(new Error('Socket closed unexpectedly'), {
  name: 'SocketClosedUnexpectedlyError',
});

describe('Writer', () => {
  it('gathers the writes that arrive while a round is out into the next round, one append call for all keys', async () => {
    const { runner, rounds } = scriptedRunner();
    const { w, stats } = writer(runner);
    const first = w.add(['s:a'], [0], ['1']);
    await vi.advanceTimersByTimeAsync(0);
    const second = w.add(['s:a', 's:b'], [0, 1], ['2', '3']);
    const third = w.add(['s:a'], [0], ['4']);
    expect(rounds).toHaveLength(1);
    rounds[0]!.answer(ok(rounds[0]!.calls));
    await first;
    await vi.advanceTimersByTimeAsync(0);
    expect(rounds).toHaveLength(2);
    expect(rounds[1]!.calls).toHaveLength(1);
    expect(appended(rounds[1]!.calls)).toEqual({ 's:a': ['2', '4'], 's:b': ['3'] });
    expect(rounds[1]!.calls[0]!.args.slice(0, 6)).toEqual(['1000', '100', '2', '86400000', 's:a', '2']);
    expect(rounds[1]!.calls[0]!.keys).toEqual([
      expect.stringMatching(/^\{ns:0\}:w:[\w-]{12}$/),
      '{ns:0}:i:s:a',
      '{ns:0}:due',
      '{ns:1}:i:s:b',
      '{ns:1}:due',
    ]);
    // One writer, one record key.
    expect(rounds[1]!.calls[0]!.keys[0]).toBe(rounds[0]!.calls[0]!.keys[0]);
    rounds[1]!.answer(ok(rounds[1]!.calls));
    await Promise.all([second, third, w.drained()]);
    expect(stats).toMatchObject({ roundTrips: 2, appends: 3, itemsWritten: 4, pendingItems: 0 });
  });

  it('sends a failed append call again after a wait, unchanged and alone, before newer items of its key, and reports the outage once', async () => {
    // On a Cluster, one call per partition: one of them can fail alone.
    const { runner, rounds } = scriptedRunner(true);
    const { w, stats } = writer(runner);
    const events: string[] = [];
    const onOutage = () => events.push('outage');
    const onRecovered = (message: unknown) =>
      events.push(`recovered after ${(message as { retries: number }).retries}`);
    diagnosticsChannel.subscribe(redisChannelNames.outage, onOutage);
    diagnosticsChannel.subscribe(redisChannelNames.recovered, onRecovered);
    try {
      let settled = false;
      const write = w.add(['s:a', 's:b'], [0, 1], ['1', '2']).then(() => {
        settled = true;
      });
      await vi.advanceTimersByTimeAsync(0);
      expect(rounds[0]!.calls.map(membersOf)).toEqual([['s:a'], ['s:b']]);
      rounds[0]!.answer([
        { ok: true, value: [0, 1] },
        { ok: false, error: connectionLost },
      ]);
      await vi.advanceTimersByTimeAsync(0);
      const later = w.add(['s:b'], [1], ['3']);
      expect(stats).toMatchObject({ outages: 1, writeRetries: 1, pendingItems: 2 });
      expect(rounds).toHaveLength(1);
      // The failed call may have run: it goes again exactly as it was, under its number, without the
      // newer item (which the script would otherwise drop with it, or append twice with it).
      await vi.advanceTimersByTimeAsync(50);
      expect(rounds[1]!.calls).toEqual([rounds[0]!.calls[1]]);
      // A second failure: the wait grows; still one outage.
      rounds[1]!.answer([{ ok: false, error: connectionLost }]);
      await vi.advanceTimersByTimeAsync(49);
      expect(rounds).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(51);
      expect(rounds).toHaveLength(3);
      expect(rounds[2]!.calls).toEqual([rounds[0]!.calls[1]]);
      expect(settled).toBe(false);
      // It had run: the script says so, and the write settles.
      rounds[2]!.answer([{ ok: true, value: [1, 1] }]);
      await write;
      await vi.advanceTimersByTimeAsync(0);
      expect(appended(rounds[3]!.calls)).toEqual({ 's:b': ['3'] });
      expect(Number(rounds[3]!.calls[0]!.args[2])).toBeGreaterThan(Number(rounds[0]!.calls[1]!.args[2]));
      rounds[3]!.answer(ok(rounds[3]!.calls));
      await later;
      expect(stats).toMatchObject({
        outages: 1,
        writeRetries: 2,
        repeatedWrites: 1,
        pendingItems: 0,
        itemsWritten: 3,
      });
      expect(events).toEqual(['outage', 'recovered after 2']);
    } finally {
      diagnosticsChannel.unsubscribe(redisChannelNames.outage, onOutage);
      diagnosticsChannel.unsubscribe(redisChannelNames.recovered, onRecovered);
    }
  });

  it('sends a round whose calls all failed again alone and unchanged; newer writes follow under new numbers', async () => {
    const { runner, rounds } = scriptedRunner();
    const { w, stats } = writer(runner);
    const first = w.add(['s:a', 's:b'], [0, 1], ['1', '2']);
    await vi.advanceTimersByTimeAsync(0);
    rounds[0]!.answer([{ ok: false, error: connectionLost }]);
    await vi.advanceTimersByTimeAsync(0);
    const second = w.add(['s:a'], [0], ['3']);
    await vi.advanceTimersByTimeAsync(50);
    // Not merged with the newer item: had the first call run, the script would skip it whole.
    expect(rounds[1]!.calls).toEqual(rounds[0]!.calls);
    rounds[1]!.answer(ok(rounds[1]!.calls));
    await first;
    await vi.advanceTimersByTimeAsync(0);
    expect(appended(rounds[2]!.calls)).toEqual({ 's:a': ['3'] });
    expect(rounds[2]!.calls[0]!.args[2]).toBe('2');
    rounds[2]!.answer(ok(rounds[2]!.calls));
    await second;
    expect(stats).toMatchObject({ writeRetries: 1, repeatedWrites: 0, itemsWritten: 3, pendingItems: 0 });
  });

  it('keeps the items of many writes and keys in order across merged rounds and splits, whatever their characters', async () => {
    const { runner, rounds } = scriptedRunner();
    const { w } = writer(runner);
    const expected: Record<string, string[]> = {};
    const writes: Promise<void>[] = [];
    let n = 0;
    // Writes of varied sizes over 3 keys, some larger than a round; texts of 1 to 3 UTF-8 bytes a character.
    for (const size of [3, ROUND_ITEMS + 7, 1, 2 * ROUND_ITEMS, 5]) {
      const members = Array.from({ length: size }, (_, i) => `s:k${(i * 7 + size) % 3}`);
      const values = members.map(() => `${n++}${['', 'é', '€'][n % 3]}`);
      members.forEach((member, i) => {
        expected[member] = expected[member] ?? [];
        expected[member].push(values[i]!);
      });
      writes.push(
        w.add(
          members,
          members.map(() => 0),
          values,
        ),
      );
    }
    const sent: Record<string, string[]> = {};
    for (let round = 0; round < 20; round++) {
      await vi.advanceTimersByTimeAsync(0);
      if (rounds.length === round) break;
      for (const [member, list] of Object.entries(appended(rounds[round]!.calls))) {
        sent[member] = sent[member] ?? [];
        sent[member].push(...list);
      }
      rounds[round]!.answer(ok(rounds[round]!.calls));
    }
    await Promise.all(writes);
    expect(sent).toEqual(expected);
  });

  it('counts a round without a reply for a second as an outage, without giving up on it', async () => {
    const { runner, rounds } = scriptedRunner();
    const { w, stats } = writer(runner);
    const write = w.add(['s:a'], [0], ['1']);
    await vi.advanceTimersByTimeAsync(STALLED_WRITE_MS - 1);
    expect(stats.outages).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(stats.outages).toBe(1);
    rounds[0]!.answer(ok(rounds[0]!.calls));
    await write;
    expect(rounds).toHaveLength(1);
  });

  it('stops at a reply that no retry can fix: this write and every later one reject', async () => {
    const { runner, rounds } = scriptedRunner();
    const { w } = writer(runner);
    const write = w.add(['s:a'], [0], ['1']);
    await vi.advanceTimersByTimeAsync(0);
    class ErrorReply extends Error {}
    rounds[0]!.answer([
      {
        ok: false,
        error: new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value'),
      },
    ]);
    await expect(write).rejects.toMatchObject({
      code: 'ERR_REDIS_REPLY',
      message: expect.stringMatching(/`s:a`.*WRONGTYPE/),
    });
    await expect(w.add(['s:b'], [0], ['2'])).rejects.toMatchObject({ code: 'ERR_REDIS_REPLY' });
    await expect(w.drained()).rejects.toMatchObject({ code: 'ERR_REDIS_REPLY' });
  });

  it('sends a write larger than a round in rounds of ROUND_ITEMS items, one after the other, in order; it settles with the last', async () => {
    const { runner, rounds } = scriptedRunner();
    const { w, stats } = writer(runner);
    // Two keys, interleaved as inserts are: 1.5 rounds of items each.
    const n = ROUND_ITEMS * 1.5;
    const members = Array.from({ length: 2 * n }, (_, i) => (i % 2 === 0 ? 's:a' : 's:b'));
    const values = members.map((member, i) => `${member}-${i >> 1}`);
    let settled = false;
    const big = w
      .add(
        members,
        members.map(() => 0),
        values,
      )
      .then(() => {
        settled = true;
      });
    const after = w.add(['s:a'], [0], ['last']);
    const sent: Record<string, string[]> = { 's:a': [], 's:b': [] };
    for (let round = 0; round < 3; round++) {
      await vi.advanceTimersByTimeAsync(0);
      expect(rounds).toHaveLength(round + 1);
      const calls = rounds[round]!.calls;
      const items = Object.values(appended(calls)).reduce((sum, list) => sum + list.length, 0);
      expect(items).toBeLessThanOrEqual(ROUND_ITEMS);
      for (const [member, list] of Object.entries(appended(calls))) sent[member]!.push(...list);
      expect(settled).toBe(false);
      rounds[round]!.answer(ok(calls));
    }
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(true);
    // The small write came after the big one: the next round.
    expect(appended(rounds[3]!.calls)).toEqual({ 's:a': ['last'] });
    rounds[3]!.answer(ok(rounds[3]!.calls));
    await Promise.all([big, after]);
    expect(sent['s:a']).toEqual(Array.from({ length: n }, (_, i) => `s:a-${i}`));
    expect(sent['s:b']).toEqual(Array.from({ length: n }, (_, i) => `s:b-${i}`));
    expect(stats).toMatchObject({ itemsWritten: 2 * n + 1, pendingItems: 0 });
  });

  it('caps a round at ROUND_BYTES bytes of items, and sends an item larger than that alone', async () => {
    const { runner, rounds } = scriptedRunner();
    const { w } = writer(runner);
    const huge = 'x'.repeat(ROUND_BYTES + 1);
    const half = 'y'.repeat(ROUND_BYTES / 2);
    const write = w.add(['s:a', 's:a', 's:a', 's:a'], [0, 0, 0, 0], [huge, half, half, half]);
    const expected = [[huge], [half, half], [half]];
    for (let round = 0; round < 3; round++) {
      await vi.advanceTimersByTimeAsync(0);
      expect(appended(rounds[round]!.calls)).toEqual({ 's:a': expected[round] });
      rounds[round]!.answer(ok(rounds[round]!.calls));
    }
    await write;
    expect(rounds).toHaveLength(3);
  });

  it('gathers at most ROUND_ITEMS items into one round (one write at least)', async () => {
    const { runner, rounds } = scriptedRunner();
    const { w } = writer(runner);
    const big = Array.from({ length: ROUND_ITEMS * 0.6 }, (_, i) => String(i));
    const write = (n: number) =>
      w.add(
        big.map(() => `s:k${n}`),
        big.map(() => 0),
        big,
      );
    const writes = [write(0)];
    await vi.advanceTimersByTimeAsync(0);
    writes.push(write(1), write(2));
    rounds[0]!.answer(ok(rounds[0]!.calls));
    await vi.advanceTimersByTimeAsync(0);
    expect(Object.keys(appended(rounds[1]!.calls))).toEqual(['s:k1']);
    rounds[1]!.answer(ok(rounds[1]!.calls));
    await vi.advanceTimersByTimeAsync(0);
    expect(Object.keys(appended(rounds[2]!.calls))).toEqual(['s:k2']);
    rounds[2]!.answer(ok(rounds[2]!.calls));
    await Promise.all(writes);
  });
});
