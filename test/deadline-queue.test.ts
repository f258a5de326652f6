import { describe, expect, it, vi } from 'vitest';
import { DeadlineQueue } from '../src/deadline-queue.js';
import { useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

/** A deadline queue whose consumer takes entries while `room` lasts, and refuses them after. */
function consumer() {
  const taken: string[] = [];
  let room = Number.POSITIVE_INFINITY;
  let offered = 0;
  const queue = new DeadlineQueue<string, number>(1, (key, token) => {
    offered++;
    if (room === 0) return false;
    room--;
    taken.push(`${key}:${token}`);
    return true;
  });
  return {
    queue,
    taken,
    offered: () => offered,
    setRoom: (value: number) => {
      room = value;
    },
  };
}

describe('DeadlineQueue', () => {
  it('hands out each entry once its deadline has passed, earliest slot first', async () => {
    const { queue, taken } = consumer();
    queue.add('b', 2, 20);
    queue.add('a', 1, 10);
    queue.add('c', 3, 20);
    await vi.advanceTimersByTimeAsync(9);
    expect(taken).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(taken).toEqual(['a:1']);
    await vi.advanceTimersByTimeAsync(10);
    expect(taken).toEqual(['a:1', 'b:2', 'c:3']);
  });

  it('pauses at an entry the consumer refuses, and goes on from it, in order, on resume', async () => {
    const { queue, taken, offered, setRoom } = consumer();
    for (let i = 0; i < 10; i++) queue.add(`k${i}`, i, 10);
    setRoom(4);
    await vi.advanceTimersByTimeAsync(10);
    expect(taken).toEqual(['k0:0', 'k1:1', 'k2:2', 'k3:3']);
    expect(queue.paused).toBe(true);
    // Paused, it offers nothing more: not at later turns, nor when another slot falls due.
    queue.add('late', 99, 15);
    await vi.advanceTimersByTimeAsync(100);
    expect(offered()).toBe(5); // the four taken, and the one refused
    setRoom(3);
    queue.resume();
    expect(taken.slice(4)).toEqual(['k4:4', 'k5:5', 'k6:6']);
    expect(queue.paused).toBe(true);
    setRoom(Number.POSITIVE_INFINITY);
    queue.resume();
    expect(taken.slice(7)).toEqual(['k7:7', 'k8:8', 'k9:9', 'late:99']);
    expect(queue.paused).toBe(false);
  });

  it('resume is a no-op unless paused, and hands out nothing that is not due', async () => {
    const { queue, taken } = consumer();
    queue.add('a', 1, 50);
    queue.resume();
    await vi.advanceTimersByTimeAsync(10);
    queue.resume();
    expect(taken).toEqual([]);
    await vi.advanceTimersByTimeAsync(40);
    expect(taken).toEqual(['a:1']);
  });

  it('clear forgets the refused entries and ends the pause', async () => {
    const { queue, taken, setRoom } = consumer();
    queue.add('a', 1, 10);
    queue.add('b', 2, 10);
    setRoom(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(queue.paused).toBe(true);
    queue.clear();
    expect(queue.paused).toBe(false);
    setRoom(Number.POSITIVE_INFINITY);
    queue.add('c', 3, 30);
    await vi.advanceTimersByTimeAsync(30);
    expect(taken).toEqual(['a:1', 'c:3']);
  });
});
