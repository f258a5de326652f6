/**
 * A quick, manual measure of the journal alone (no buffer): small items written turn by turn, at
 * 'process' and 'always', against the raw limit (the same items as JSON, one `fs.writeSync` per turn).
 * Usage: node --import tsx scripts/journal-throughput.ts [items=500000] [perTurn=1000]
 * The benchmark suite measures the buffer with a store once the store option is wired in.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { journal, type SyncLevel } from '../src/journal/index.js';

const total = Number(process.argv[2] ?? 500_000);
const perTurn = Number(process.argv[3] ?? 1000);
const keys = Array.from({ length: 1000 }, (_, i) => `/page/${i}`);
const item = (i: number) => ({ user: `u${i % 5000}`, at: 1_700_000_000_000 + i, ok: true });

function raw(): number {
  const dir = mkdtempSync(path.join(tmpdir(), 'journal-raw-'));
  const fd = openSync(path.join(dir, 'raw'), 'a');
  const started = performance.now();
  for (let done = 0; done < total; done += perTurn) {
    let text = '';
    for (let i = done; i < done + perTurn; i++)
      text += `${keys[i % keys.length]}\t${JSON.stringify(item(i))}\n`;
    writeSync(fd, text);
  }
  const seconds = (performance.now() - started) / 1000;
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return total / seconds;
}

async function run(
  sync: SyncLevel,
  producers: number,
  admit: boolean,
): Promise<{ rate: number; mb: number; p99: number; syncs: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'journal-bench-'));
  const backend = journal<string, ReturnType<typeof item>>({ dir, sync });
  backend.open({ maxSize: 1000, interval: 1000, partitions: 1 });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = performance.now();
  const keyRing: string[] = new Array(perTurn);
  const valueRing: ReturnType<typeof item>[] = new Array(perTurn);
  const pending: Promise<void>[] = [];
  for (let done = 0; done < total; done += perTurn) {
    for (let i = 0; i < perTurn; i++) {
      keyRing[i] = keys[(done + i) % keys.length]!;
      valueRing[i] = item(done + i);
      // What the buffer's insert does with a store set.
      if (admit) backend.admit(keyRing[i]!, valueRing[i]!);
    }
    void backend.write({ length: perTurn, keys: keyRing, values: valueRing, firstSeq: done });
    for (let p = 0; p < producers; p++) pending.push(backend.durable());
    if (pending.length >= producers * 8) await Promise.all(pending.splice(0));
    else await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(pending);
  await backend.durable();
  const seconds = (performance.now() - started) / 1000;
  delay.disable();
  const stats = backend.stats();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    rate: total / seconds,
    mb: stats.bytesWritten / 1e6 / seconds,
    p99: delay.percentile(99) / 1e6,
    syncs: stats.syncs,
  };
}

const limit = raw();
console.log(`raw writeSync limit: ${Math.round(limit).toLocaleString()} items/s`);
for (const [sync, producers, admit] of [
  ['process', 1, false],
  ['process', 1, true],
  ['always', 100, true],
] as const) {
  const result = await run(sync, producers, admit);
  console.log(
    `${sync}${admit ? ' + admit' : ''} (${producers} producer(s) awaiting durable()): ${Math.round(result.rate).toLocaleString()} items/s, ` +
      `${result.mb.toFixed(1)} MB/s, ${(result.rate / limit).toFixed(2)} of raw, event-loop p99 ${result.p99.toFixed(1)} ms, ${result.syncs} fdatasyncs`,
  );
}
