import { afterEach, describe, expect, it, vi } from 'vitest';
import { Release, type Waiter } from '../../src/journal/release.js';
import { SLICE_MS } from '../../src/timers.js';

/** Waiters with tickets 1..count; resolving one records it and costs `cost` ms on `clock`. */
function waiters(count: number, clock: { ms: number }, cost: number, resolved: number[]): Waiter[] {
  return Array.from({ length: count }, (_, i) => ({
    ticket: i + 1,
    resolve: () => {
      resolved.push(i + 1);
      clock.ms += cost;
    },
    reject: () => {
      throw new Error('a done waiter was rejected');
    },
  }));
}

describe('journal waiter release', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves done waiters in order, a slice per turn sized by what a waiter took', async () => {
    vi.useFakeTimers();
    const clock = { ms: 0 };
    const resolved: number[] = [];
    let drained = 0;
    const release = new Release(
      () => drained++,
      () => clock.ms,
    );
    // Each waiter's continuation takes 1/8 ms: a slice of SLICE_MS / 2 holds SLICE_MS * 4 of them.
    const list = waiters(200, clock, 0.125, resolved);
    const left = release.settle(list, 150);
    expect(left.map((waiter) => waiter.ticket)).toEqual(Array.from({ length: 50 }, (_, i) => 151 + i));
    const perTurn = [resolved.length];
    for (let turn = 0; release.pending > 0 && turn < 50; turn++) {
      await vi.runOnlyPendingTimersAsync();
      perTurn.push(resolved.length - perTurn.reduce((a, b) => a + b, 0));
    }
    expect(resolved).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect(perTurn[0]).toBe(16);
    const slice = SLICE_MS * 4;
    for (const count of perTurn.slice(1, -1)) expect(count).toBe(slice);
    expect(perTurn.at(-1)).toBeLessThanOrEqual(slice);
    expect(drained).toBe(1);
  });

  it('hands over waiters that come while a release runs after the ones before them', async () => {
    vi.useFakeTimers();
    const clock = { ms: 0 };
    const resolved: number[] = [];
    const release = new Release(undefined, () => clock.ms);
    const list = waiters(40, clock, 1, resolved);
    release.settle(list.slice(0, 30), 30);
    expect(resolved).toHaveLength(16);
    expect(release.settle(list.slice(30), 40)).toEqual([]);
    expect(resolved).toHaveLength(16);
    await vi.runOnlyPendingTimersAsync();
    // 1 ms a waiter: one per turn from now on.
    expect(resolved).toHaveLength(17);
    await vi.runAllTimersAsync();
    expect(resolved).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(release.pending).toBe(0);
  });

  it('resolves nothing and schedules nothing when no waiter is done', () => {
    vi.useFakeTimers();
    const resolved: number[] = [];
    const release = new Release();
    const list = waiters(3, { ms: 0 }, 0, resolved);
    expect(release.settle(list, 0)).toBe(list);
    expect(resolved).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
