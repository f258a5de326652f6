/**
 * Model test through the buffer, with crash-and-reopen steps: random histories of inserts,
 * insertMany, flushes, deliveries that succeed, fail (retried) or hang, `onFull: 'drop-oldest'` on a
 * small budget, dump, `persisted()`, and kill -9 (the fake file system keeps what was written; the
 * buffer is rebuilt on it, and the old one's deliveries no longer count). Checked at the end against a
 * ledger of fates: every persisted item was delivered, dropped or dumped (at least once); no item
 * was delivered that was never inserted; a key's first deliveries came in insert order; and a
 * duplicate is always a batch delivered before a kill, again under its own id. `JOURNAL_MODEL_RUNS` sets the
 * number of histories (50 by default).
 */
import { describe, expect, it } from 'vitest';
import { DataBuffer } from '../../src/index.js';
import { journal } from '../../src/journal/index.js';
import { FakeFs, random } from './fake-fs.js';

const KEYS = ['a', 'b', 'c', 'd'];
const HISTORIES = Number(process.env.JOURNAL_MODEL_RUNS ?? 50);

interface Generation {
  buffer: DataBuffer<string, number>;
  /** Hung deliveries: settle them (true: delivered) in a later step. */
  hung: Array<(ok: boolean) => void>;
  alive: boolean;
}

describe('the buffer with a journal against a model, with kill -9 and restart', () => {
  it(`keeps every persisted item and per-key order (${HISTORIES} random histories)`, {
    timeout: 120_000,
  }, async () => {
    let kills = 0;
    let duplicates = 0;
    for (let seed = 0; seed < HISTORIES; seed++) {
      const rand = random(seed + 1000);
      const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)]!;
      const sync = pick(['process', 'always', 'interval', 'none'] as const);
      const dropOldest = rand() < 0.4;
      let fs = new FakeFs();
      const inserted = new Set<number>();
      /** Ids inserted into the live generation, not yet acknowledged by its `persisted()`. */
      let pending: number[] = [];
      const persisted = new Set<number>();
      const settled = new Set<number>(); // dropped or dumped
      const firstDelivery = new Map<number, string>();
      const lastFirstOfKey = new Map<string, number>();
      const batchesSeen = new Map<string, number>(); // batch id → generation that delivered it first
      const generations: Generation[] = [];
      let nextId = 0;
      /** Set for the last generation's close: every delivery then succeeds. */
      let draining = false;
      let gen!: Generation;

      const open = () => {
        const hung: Generation['hung'] = [];
        const self: Generation = { buffer: undefined as never, hung, alive: true };
        const index = generations.length;
        self.buffer = new DataBuffer<string, number>({
          store: journal<string, number>({ dir: '/journal', fs, sync, segmentBytes: 4096 }),
          interval: 60_000,
          maxSize: 3,
          partitions: 2,
          retryMax: 1_000,
          retryDelay: 1,
          ...(dropOldest
            ? {
                onFull: 'drop-oldest' as const,
                maxBuffered: 8,
                onDrop: (_key, items) => {
                  if (self.alive) for (const id of items) settled.add(id);
                },
              }
            : {}),
          handleFlush: (key, items, { batchId }) => {
            if (!self.alive) return new Promise(() => {}); // the process is dead: nothing happens any more
            const seen = batchesSeen.get(batchId);
            for (const id of items) {
              expect(inserted.has(id), `seed ${seed}: ${id} never inserted`).toBe(true);
              expect(key).toBe(KEYS[id % KEYS.length]);
              if (firstDelivery.has(id)) {
                // A duplicate: the same batch, delivered by an earlier generation before a kill.
                expect(seen, `seed ${seed}: ${id} again in a new batch`).toBeLessThan(index);
                duplicates++;
                continue;
              }
              firstDelivery.set(id, batchId);
              expect(lastFirstOfKey.get(key) ?? -1, `seed ${seed}: key ${key} out of order`).toBeLessThan(id);
              lastFirstOfKey.set(key, id);
            }
            if (seen === undefined) batchesSeen.set(batchId, index);
            const draw = draining ? 1 : rand();
            if (draw < 0.15) throw new Error('retry me');
            if (draw < 0.3)
              return new Promise<void>((resolve, reject) =>
                hung.push((ok) => (ok ? resolve() : reject(new Error('late')))),
              );
            return undefined;
          },
          logger: { error() {}, warn() {}, info() {} } as never,
        });
        generations.push(self);
        return self;
      };
      gen = open();

      for (let step = 0; step < 60; step++) {
        const draw = rand();
        const buffer = gen.buffer;
        if (draw < 0.35) {
          const id = nextId++;
          inserted.add(id);
          pending.push(id);
          buffer.insert(KEYS[id % KEYS.length]!, id);
        } else if (draw < 0.45) {
          // insertMany of ids of one key.
          const key = pick(KEYS);
          const ids: number[] = [];
          while (ids.length < 3) {
            const id = nextId++;
            if (KEYS[id % KEYS.length] === key) ids.push(id);
          }
          for (const id of ids) inserted.add(id);
          pending.push(...ids);
          buffer.insertMany(key, ids);
        } else if (draw < 0.6) {
          void buffer.flush(pick(KEYS));
          await new Promise((resolve) => setImmediate(resolve));
        } else if (draw < 0.7) {
          // Only what the live generation was given: inserts into a killed one were never acknowledged.
          const acknowledged = pending;
          pending = [];
          await buffer.persisted();
          for (const id of acknowledged) persisted.add(id);
        } else if (draw < 0.78) {
          const hung = gen.hung.splice(0);
          for (const settle of hung) settle(rand() < 0.7);
          await new Promise((resolve) => setImmediate(resolve));
        } else if (draw < 0.82) {
          for (const items of buffer.dump().values()) for (const id of items) settled.add(id);
        } else if (draw < 0.9) {
          // kill -9: what was written survives; the old buffer is dead from here on.
          kills++;
          await new Promise((resolve) => setImmediate(resolve));
          gen.alive = false;
          pending = [];
          fs = fs.kill();
          gen = open();
        } else {
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      // The last generation drains: hung deliveries succeed, close delivers the rest.
      const last = gen;
      draining = true;
      for (const settle of last.hung.splice(0)) settle(true);
      await last.buffer.close();
      for (const id of persisted) {
        if (!firstDelivery.has(id) && !settled.has(id))
          throw new Error(`seed ${seed}: persisted ${id} was lost`);
      }
      // Dead generations: let go of them (their file system is gone; nothing they do counts).
      for (const dead of generations) {
        if (dead === last) continue;
        for (const settle of dead.hung.splice(0)) settle(true);
        dead.buffer.dump();
        void dead.buffer.close({ timeout: 0 });
      }
    }
    expect(kills).toBeGreaterThan(HISTORIES);
    expect(duplicates).toBeGreaterThan(0);
  });
});
