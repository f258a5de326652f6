import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DataBuffer } from '../src/index.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Lets the current job end (WeakRefs keep their target alive until then), then collects garbage. */
async function settleAndCollect(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
}

describe('delivered items are released', () => {
  it('a batch flushed by maxSize long before its interval is not kept alive by its pending deadline', async () => {
    let delivered = 0;
    const buffer = new DataBuffer<string, object>({
      handleFlush: (_key, items) => {
        delivered += items.length;
      },
      maxSize: 2,
      interval: 60_000,
    });
    let payload: object | undefined = { big: 'x'.repeat(1000) };
    const released = new WeakRef(payload);
    buffer.insert('k', payload);
    buffer.insert('k', {});
    payload = undefined;
    await buffer.flushAll();
    expect(delivered).toBe(2);
    await settleAndCollect();
    expect(released.deref()).toBeUndefined();
    await buffer.close();
  });

  it('a batch flushed by flush() is released too', async () => {
    const buffer = new DataBuffer<string, object>({ handleFlush: () => {}, interval: 60_000 });
    let payload: object | undefined = {};
    const released = new WeakRef(payload);
    buffer.insert('k', payload);
    payload = undefined;
    await buffer.flush('k');
    await settleAndCollect();
    expect(released.deref()).toBeUndefined();
    await buffer.close();
  });
});
