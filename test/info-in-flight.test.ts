import { describe, expect, it, vi } from 'vitest';
import { DataBuffer } from '../src/index.js';
import { silentLogger, useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

describe('info()', () => {
  it('counts handleFlush calls as in flight (0 or 1 per partition), handleError calls apart', async () => {
    const never = new Promise<void>(() => {});
    const buffer = new DataBuffer<string, number>({
      handleFlush: () => never,
      handleError: () => never,
      partitions: 1,
      logger: silentLogger(),
    });
    for (const key of ['a', 'b', 'c']) buffer.insert(key, 1);
    void buffer.close({ timeout: 100 });
    await vi.advanceTimersByTimeAsync(50);
    expect(buffer.info()[0]).toMatchObject({ inFlight: 1, queued: 2, handlingErrors: 0 });
    await vi.advanceTimersByTimeAsync(100);
    // The deadline passed: all three batches are with handleError, none with handleFlush.
    expect(buffer.info()[0]).toMatchObject({ inFlight: 0, queued: 0, handlingErrors: 3 });
  });
});
