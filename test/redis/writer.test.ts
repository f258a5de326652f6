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
import { createRedisStoreStats } from '../../src/redis/stats.js';
import { ROUND_ITEMS, STALLED_WRITE_MS, Writer } from '../../src/redis/writer.js';
import { deferred, useFakeTimersInEveryTest } from '../helpers.js';

useFakeTimersInEveryTest();

/** A runner whose rounds the test answers: each `runAll` waits for `answer`. */
function scriptedRunner() {
  const rounds: Array<{ calls: readonly ScriptCall[]; answer: (results: CallResult[]) => void }> = [];
  const runner: ScriptRunner = {
    client: 'redis',
    cluster: false,
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

/** The values each call of a round appends, per member. */
function appended(calls: readonly ScriptCall[]): Record<string, string[]> {
  return Object.fromEntries(calls.map((call) => [call.args[0], call.args.slice(3)]));
}

const ok = (calls: readonly ScriptCall[]): CallResult[] => calls.map(() => ({ ok: true, value: 1 }));
const connectionLost = Object.assign(new Error('Socket closed unexpectedly'), {
  name: 'SocketClosedUnexpectedlyError',
});

describe('Writer', () => {
  it('gathers the writes that arrive while a round is out into the next round, one append per key', async () => {
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
    expect(appended(rounds[1]!.calls)).toEqual({ 's:a': ['2', '4'], 's:b': ['3'] });
    expect(rounds[1]!.calls[0]!.args.slice(0, 3)).toEqual(['s:a', '1000', '100']);
    rounds[1]!.answer(ok(rounds[1]!.calls));
    await Promise.all([second, third, w.drained()]);
    expect(stats).toMatchObject({ roundTrips: 2, appends: 3, itemsWritten: 4, pendingItems: 0 });
  });

  it('sends a failed append again after a wait, before newer items of its key, and reports the outage once', async () => {
    const { runner, rounds } = scriptedRunner();
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
      rounds[0]!.answer([
        { ok: true, value: 1 },
        { ok: false, error: connectionLost },
      ]);
      await vi.advanceTimersByTimeAsync(0);
      const later = w.add(['s:b'], [1], ['3']);
      expect(stats).toMatchObject({ outages: 1, writeRetries: 1, pendingItems: 2 });
      expect(rounds).toHaveLength(1);
      // A second failure: the wait grows; still one outage.
      await vi.advanceTimersByTimeAsync(50);
      expect(appended(rounds[1]!.calls)).toEqual({ 's:b': ['2', '3'] });
      rounds[1]!.answer([{ ok: false, error: connectionLost }]);
      await vi.advanceTimersByTimeAsync(49);
      expect(rounds).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(51);
      expect(rounds).toHaveLength(3);
      expect(appended(rounds[2]!.calls)).toEqual({ 's:b': ['2', '3'] });
      expect(settled).toBe(false);
      rounds[2]!.answer(ok(rounds[2]!.calls));
      await Promise.all([write, later]);
      expect(stats).toMatchObject({ outages: 1, writeRetries: 2, pendingItems: 0, itemsWritten: 3 });
      expect(events).toEqual(['outage', 'recovered after 2']);
    } finally {
      diagnosticsChannel.unsubscribe(redisChannelNames.outage, onOutage);
      diagnosticsChannel.unsubscribe(redisChannelNames.recovered, onRecovered);
    }
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
