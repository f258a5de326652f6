/**
 * Torn and corrupt files: random truncations, bit flips and garbage, 10,000 cases in-process on the
 * fake file system. The journal must open, never throw, keep the clean prefix, cut a torn tail,
 * quarantine a bad frame elsewhere, report what it discarded, and be clean on the next open.
 */
import { describe, expect, it } from 'vitest';
import { RecordType, readFrame, SEGMENT_MAGIC } from '../../src/journal/frame.js';
import type { Journal } from '../../src/journal/index.js';
import { FakeFs, random } from './fake-fs.js';
import { openJournal, recovered, segmentFiles, staged } from './helpers.js';

interface Item {
  key: string;
  id: number;
  turn: number;
  pad: string;
}

const CASES = 10_000;
const TURNS = 18;
const KEYS = ['alpha', 'beta', 'gamma', 'delta'];

/** A journal image with several segments, takes, settles and drops, left as a kill -9 leaves it. */
async function buildImage(): Promise<FakeFs> {
  const fs = new FakeFs();
  const backend = openJournal<string, Item>(fs, { segmentBytes: 4096 });
  let id = 0;
  for (let turn = 0; turn < TURNS; turn++) {
    const entries: Array<[string, Item]> = [];
    for (let i = 0; i < 4; i++) {
      const key = KEYS[(turn + i) % KEYS.length]!;
      entries.push([key, { key, id: id++, turn, pad: 'x'.repeat(100 + ((turn * 7 + i) % 80)) }]);
    }
    await backend.write(staged(entries));
    if (turn % 3 === 1) backend.taken(KEYS[turn % 4]!, 2, `batch-${turn}`);
    if (turn % 6 === 4) backend.settled(`batch-${turn - 3}`);
    if (turn % 5 === 2) backend.dropped(KEYS[(turn + 1) % 4]!, 1);
    await backend.durable();
  }
  return fs;
}

function path(name: string): string {
  return `/journal/${name}`;
}

/** The PUTS frames' turns by segment, and where each frame sits. */
function frameMap(fs: FakeFs): Map<string, Array<{ start: number; end: number; turn: number | undefined }>> {
  const map = new Map<string, Array<{ start: number; end: number; turn: number | undefined }>>();
  let turn = 0;
  for (const name of segmentFiles(fs)) {
    const buffer = fs.readFileSync(path(name));
    const frames: Array<{ start: number; end: number; turn: number | undefined }> = [];
    for (let offset = SEGMENT_MAGIC.length; offset < buffer.length; ) {
      const frame = readFrame(buffer, offset)!;
      frames.push({
        start: frame.start,
        end: frame.end,
        turn: frame.type === RecordType.PUTS ? turn++ : undefined,
      });
      offset = frame.end;
    }
    map.set(name, frames);
  }
  return map;
}

function open(fs: FakeFs): {
  backend: Journal<string, Item>;
  batches: ReturnType<typeof recovered<string, Item>>;
} {
  const backend = openJournal<string, Item>(fs, { segmentBytes: 4096 });
  return { backend, batches: recovered(backend) };
}

function ids(batches: ReturnType<typeof recovered<string, Item>>): Set<number> {
  return new Set(batches.flatMap((batch) => batch.items.map((item) => item.id)));
}

describe('journal on torn and corrupt files', () => {
  it(`opens, keeps the clean prefix and reports what it discarded (${CASES} random cases)`, {
    timeout: 120_000,
  }, async () => {
    const image = await buildImage();
    const names = segmentFiles(image);
    expect(names.length).toBeGreaterThanOrEqual(3);
    const frames = frameMap(image);
    const newest = names.at(-1)!;
    const full = open(image.kill()).batches;
    const rand = random(20240601);
    const counts = { truncate: 0, flip: 0, garbage: 0, both: 0 };

    for (let round = 0; round < CASES; round++) {
      const fs = image.kill();
      const draw = rand();
      const mode = draw < 0.4 ? 'truncate' : draw < 0.8 ? 'flip' : draw < 0.9 ? 'garbage' : 'both';
      counts[mode]++;
      let lostTurns = new Set<number>();
      let cutAt: number | undefined;
      let flipInfo: unknown;
      if (mode === 'flip' || mode === 'both') {
        const name = names[Math.floor(rand() * names.length)]!;
        const data = fs.names.get(path(name))!.data;
        const offset = Math.floor(rand() * data.length);
        data[offset]! ^= 1 << Math.floor(rand() * 8);
        const hit = frames.get(name)!.find((frame) => offset >= frame.start && offset < frame.end);
        flipInfo = { name, offset, hit, size: data.length };
        lostTurns = new Set(
          (hit ? [hit] : frames.get(name)!).flatMap((frame) =>
            frame.turn === undefined ? [] : [frame.turn],
          ),
        );
      }
      if (mode === 'truncate' || mode === 'both') {
        const inode = fs.names.get(path(newest))!;
        cutAt = Math.floor(rand() * inode.data.length);
        inode.data = inode.data.subarray(0, cutAt);
      }
      if (mode === 'garbage') {
        const inode = fs.names.get(path(newest))!;
        const garbage = Buffer.alloc(1 + Math.floor(rand() * 64), 0);
        for (let i = 0; i < garbage.length; i++) garbage[i] = rand() < 0.5 ? 0 : Math.floor(rand() * 256);
        inode.data = Buffer.concat([inode.data, garbage]);
      }

      // 1. Opens and never throws.
      const { backend, batches } = open(fs);
      const stats = backend.stats();
      const discarded = stats.truncatedBytes + stats.quarantinedBytes;

      // 2. Hands back only items that were written, under their own key, in their key's order.
      const lastId = new Map<string, number>();
      for (const batch of batches) {
        for (const item of batch.items) {
          // Settled items may come back when the record that settled them was lost, never made-up ones.
          if (!Number.isInteger(item.id) || item.id >= TURNS * 4 || item.key !== batch.key) {
            throw new Error(`round ${round}: unexpected item ${JSON.stringify(item)} under ${batch.key}`);
          }
          if (item.id <= (lastId.get(batch.key) ?? -1))
            throw new Error(`round ${round}: ${batch.key} out of order`);
          lastId.set(batch.key, item.id);
        }
      }

      // 3. Keeps the clean prefix and reports the rest.
      if (mode === 'flip') {
        expect(discarded).toBeGreaterThan(0);
        const got = ids(batches);
        for (const batch of full) {
          for (const item of batch.items) {
            if (!lostTurns.has(item.turn) && !got.has(item.id)) {
              throw new Error(
                `round ${round}: lost item ${JSON.stringify(item)}; lost turns ${[...lostTurns]}; stats ${JSON.stringify(stats)}; ${JSON.stringify(flipInfo)}`,
              );
            }
          }
        }
      }
      if (mode === 'garbage') {
        expect(stats.truncatedBytes).toBeGreaterThan(0);
        expect(batches).toEqual(full);
      }
      if (mode === 'truncate' && cutAt !== undefined) {
        const boundary =
          cutAt < SEGMENT_MAGIC.length
            ? 0
            : Math.max(
                SEGMENT_MAGIC.length,
                ...frames
                  .get(newest)!
                  .filter((f) => f.end <= cutAt!)
                  .map((f) => f.end),
              );
        expect(stats.truncatedBytes).toBe(cutAt - boundary);
        expect(stats.quarantinedBytes).toBe(0);
        const clean = image.kill();
        const inode = clean.names.get(path(newest))!;
        if (boundary === 0) clean.names.delete(path(newest));
        else inode.data = inode.data.subarray(0, boundary);
        expect(batches).toEqual(open(clean).batches);
      }

      // 4. The repaired directory opens clean, with the same contents (checked on every tenth case).
      if (round % 10 === 0) {
        const again = open(fs.kill());
        expect(again.backend.stats().truncatedBytes + again.backend.stats().quarantinedBytes).toBe(0);
        expect(again.batches).toEqual(batches);
      }
    }
    expect(Math.min(...Object.values(counts))).toBeGreaterThan(CASES / 20);
  });

  it('moves quarantined bytes into quarantine/ and reports them on the discard channel', async () => {
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
    const image = await buildImage();
    const fs = image.kill();
    const oldest = segmentFiles(fs)[0]!;
    const data = fs.names.get(path(oldest))!.data;
    data[40]! ^= 0x10;
    const messages: unknown[] = [];
    const listener = (message: unknown) => messages.push(message);
    subscribe('data-buffer:journal:discard', listener);
    try {
      const { backend } = open(fs);
      const quarantined = backend.stats().quarantinedBytes;
      expect(quarantined).toBeGreaterThan(0);
      const files = fs.readdirSync('/journal/quarantine');
      expect(files).toHaveLength(1);
      expect(fs.readFileSync(`/journal/quarantine/${files[0]}`).length).toBe(quarantined);
      expect(messages).toEqual([
        {
          dir: '/journal',
          kind: 'quarantined',
          bytes: quarantined,
          files: [`/journal/quarantine/${files[0]}`],
        },
      ]);
    } finally {
      unsubscribe('data-buffer:journal:discard', listener);
    }
  });
});
