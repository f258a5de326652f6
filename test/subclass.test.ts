import { describe, expect, it, vi } from 'vitest';
import { DataBuffer, type ErrorInfo, type FlushInfo } from '../src/index.js';
import { useFakeTimersInEveryTest } from './helpers.js';

useFakeTimersInEveryTest();

describe('the seed module form: subclass and override', () => {
  it('calls the overridden handleFlush and handleError', async () => {
    const flushed: [string, number[]][] = [];
    const failed: [string, number[], string][] = [];
    class Buffer extends DataBuffer<string, number> {
      override async handleFlush(key: string, items: number[], _info: FlushInfo) {
        if (key === 'bad') throw new Error('rejected');
        flushed.push([key, items]);
      }
      override handleError(key: string, items: number[], error: Error, _info: ErrorInfo) {
        failed.push([key, items, error.message]);
      }
    }
    const buffer = new Buffer({ interval: 10_000, retryMax: 1 });
    buffer.insert('mykey', 1);
    buffer.insert('mykey', 2);
    buffer.insert('bad', 3);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(flushed).toEqual([['mykey', [1, 2]]]);
    expect(failed).toEqual([['bad', [3], 'rejected']]);
  });

  it('lets an option fill in what the subclass does not override', async () => {
    const handleError = vi.fn();
    class Buffer extends DataBuffer<string, number> {
      override handleFlush(): void {
        throw new Error('x');
      }
    }
    const buffer = new Buffer({ handleError, retryMax: 1, interval: 10 });
    buffer.insert('k', 1);
    await vi.advanceTimersByTimeAsync(10);
    expect(handleError).toHaveBeenCalledOnce();
  });

  it('works with no options at all', () => {
    class Buffer extends DataBuffer<string, number> {
      override handleFlush(): void {}
    }
    expect(() => new Buffer()).not.toThrow();
  });
});
