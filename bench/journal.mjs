/**
 * Scenario 8: the durable journal (`data-buffer/journal`). Small items (`{ id, path }`, about 30 bytes
 * as JSON) over 1,000 keys, inserted 1,000 a turn, until `persisted()` resolves:
 * - the same buffer without a store (what the journal costs);
 * - the journal at `'process'` (written each turn) and at `'always'` (fdatasync before `persisted()`);
 * - the limit: the same items serialized (JSON) and written with `fs.writeSync`, one write per turn,
 *   no buffer at all;
 * - `'always'` with 200 producers, each inserting 10 items and awaiting `persisted()`, over and over
 *   (group commit: they share fdatasyncs), and the event loop's delay meanwhile (syncs run on the
 *   threadpool).
 *
 * The first four run interleaved, round by round (the machine is shared), after one unmeasured round
 * that compiles every path; the ratio to the limit is the median of the per-round ratios. The producers
 * run once unmeasured (a tenth of the items) before the measured run, for the same reason.
 * @module
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataBuffer } from 'data-buffer';
import { journal } from 'data-buffer/journal';
import { compare, loopDelayMonitor } from './harness.mjs';
import { compact, compactCount, millis, rate, row } from './report.mjs';

export const title = '8. Journal';

const KEYS = Array.from({ length: 1000 }, (_, i) => `/page/${i}`);
const TURN = 1000;
const turn = () => new Promise((resolve) => setImmediate(resolve));
const noop = () => {};

function items(count) {
  return Array.from({ length: count }, (_, id) => ({ id, path: KEYS[id % KEYS.length] }));
}

function tmp() {
  return mkdtempSync(path.join(tmpdir(), 'data-buffer-bench-journal-'));
}

/**
 * An arm that inserts `values` 1,000 a turn into a buffer (with a journal at `sync` when given), then
 * awaits `persisted()`. The buffer (and the journal's open: lock, scan) is built outside the timing.
 * `bytes.written` gets the bytes the journal wrote.
 *
 * Default options but `interval: 60_000`, which only keeps flushes out of the timed run. The default
 * budget (`maxBuffered` 1M, `maxBufferedBytes` 256 MiB at the sampled estimate) holds the 500k items
 * with room left: no insert returns `false` (checked), and the rates are those measured with
 * `maxBuffered: Infinity`, so no bound is raised for the bench.
 */
function bufferArm(name, values, sync, bytes = {}) {
  return {
    name,
    setup() {
      const dir = tmp();
      const buffer = new DataBuffer({
        handleFlush: noop,
        interval: 60_000,
        ...(sync === undefined ? {} : { store: journal({ dir, sync }) }),
      });
      return { dir, buffer };
    },
    async run({ buffer }) {
      for (let i = 0; i < values.length; i += TURN) {
        const end = Math.min(i + TURN, values.length);
        for (let j = i; j < end; j++) buffer.insert(values[j].path, values[j]);
        await turn();
      }
      await buffer.persisted();
    },
    async teardown({ dir, buffer }) {
      bytes.written = buffer.stats().store?.bytesWritten ?? 0;
      buffer.dump();
      await buffer.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The limit: the same items as JSON, with their keys, written 1,000 a turn with `fs.writeSync`. */
function rawArm(values, bytes = {}) {
  return {
    name: 'raw writeSync',
    setup() {
      const dir = tmp();
      return { dir, fd: openSync(path.join(dir, 'raw'), 'a'), scratch: Buffer.allocUnsafe(1 << 20) };
    },
    async run({ fd, scratch }) {
      let written = 0;
      for (let i = 0; i < values.length; i += TURN) {
        const end = Math.min(i + TURN, values.length);
        let pos = 0;
        for (let j = i; j < end; j++) {
          pos += scratch.write(values[j].path, pos);
          pos += scratch.write(JSON.stringify(values[j]), pos);
        }
        writeSync(fd, scratch, 0, pos);
        written += pos;
        await turn();
      }
      bytes.written = written;
    },
    teardown({ dir, fd }) {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `'always'`, `producers` concurrent producers of `each` items per `persisted()`, `count` items in all. */
async function producersArm(count, producers, each) {
  const dir = tmp();
  try {
    // Default options but the interval, as in bufferArm (400k items fit the default budget).
    const buffer = new DataBuffer({
      handleFlush: noop,
      interval: 60_000,
      store: journal({ dir, sync: 'always' }),
    });
    const monitor = await loopDelayMonitor();
    let next = 0;
    const producer = async () => {
      while (next < count) {
        for (let i = 0; i < each && next < count; i++, next++)
          buffer.insert(KEYS[next % KEYS.length], { id: next });
        await buffer.persisted();
      }
    };
    monitor.start();
    await Promise.all(Array.from({ length: producers }, producer));
    const figures = await monitor.stop();
    const syncs = buffer.stats().store?.syncs ?? 0;
    buffer.dump();
    await buffer.close();
    return { ...figures, syncs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run({ ci }) {
  const count = ci ? 5_000 : 500_000;
  const rounds = ci ? 1 : 5;
  const values = items(count);
  const bytes = { raw: {}, process: {}, always: {} };
  const [raw, processLevel, plain, always] = await compare({
    arms: [
      rawArm(values, bytes.raw),
      bufferArm("'process'", values, 'process', bytes.process),
      bufferArm('no store', values, undefined),
      bufferArm("'always'", values, 'always', bytes.always),
    ],
    rounds,
  });
  const producers = 200;
  const manyCount = ci ? 4_000 : 400_000;
  // One unmeasured run first, as for the arms above: the delay should be the journal's, not that of
  // compiling the producers' path (persisted() waiters by the hundred) during the first cycles.
  await producersArm(manyCount / 10, producers, 10);
  const many = await producersArm(manyCount, producers, 10);
  const mb = (bytes, ms) => `${(((bytes / 1e6) * 1000) / ms).toFixed(0)} MB/s`;
  const label = `${compactCount(count)} items of ~30 B, 1k keys, 1k a turn`;
  return [
    row({
      scenario: title,
      arm: `'process', ${label}`,
      figure: `${rate(count, processLevel.ms, 'items')}, ${mb(bytes.process.written, processLevel.ms)}`,
      baseline: `raw writeSync: ${rate(count, raw.ms, 'items')}, ${mb(bytes.raw.written, raw.ms)}; no store: ${rate(count, plain.ms, 'items')}`,
      ratio: processLevel.ratio,
      ratioLabel: 'x raw write',
      min: 0.5,
    }),
    row({
      scenario: title,
      arm: `'process', items/s (target >= 200k)`,
      figure: rate(count, processLevel.ms, 'items'),
      baseline: '200 k items/s',
      ratio: (count * 1000) / processLevel.ms / 200_000,
      ratioLabel: 'x 200k/s',
      min: 1,
    }),
    row({
      scenario: title,
      arm: `'always', one producer, ${label}`,
      figure: `${rate(count, always.ms, 'items')}, ${mb(bytes.always.written, always.ms)}`,
      baseline: `no store: ${rate(count, plain.ms, 'items')}`,
      ratio: plain.ms / always.ms,
    }),
    row({
      scenario: title,
      arm: `'always', ${producers} producers awaiting persisted() every 10 items (target >= 50k/s)`,
      figure: `${rate(manyCount, many.ms, 'items')}, ${compact(many.syncs)} fdatasyncs`,
      baseline: '50 k items/s',
      ratio: (manyCount * 1000) / many.ms / 50_000,
      ratioLabel: 'x 50k/s',
      min: 1,
    }),
    row({
      scenario: title,
      arm: `'always', ${producers} producers: event-loop delay p99 (target < 10 ms)`,
      figure: `p99 ${millis(many.p99)}, max ${millis(many.max)}`,
      baseline: '10 ms',
      ratio: many.p99,
      ratioLabel: 'ms',
      max: 10,
    }),
  ];
}
