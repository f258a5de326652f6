/**
 * The crash loop through the buffer: a child process inserts ids across 16 keys into a `DataBuffer`
 * with `store: journal(...)`, awaits `persisted()` and prints what it was told was persisted; the
 * parent kills it with SIGKILL at random moments (while it loads and recovers, while it writes, while
 * `handleFlush` runs), restarts it on the same directory, and finally lets one run drain. Then:
 * every persisted id was delivered at least once; per key, first deliveries came in insert order; no
 * id was delivered that was never inserted; and every duplicate came from a batch delivered before a
 * kill and delivered again, under the same batch id, by a later run (counted).
 *
 * `CRASH_CYCLES` sets the number of kills (50 by default; run 1,000 by hand:
 * `CRASH_CYCLES=1000 npx vitest run test/journal/buffer-crash-loop.test.ts`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { random } from './fake-fs.js';

const CYCLES = Number(process.env.CRASH_CYCLES ?? 50);
const SYNC_LEVELS = ['process', 'always', 'interval'] as const;
/** Ids of cycle `c` start at `c * BLOCK`. */
const BLOCK = 10_000_000;

/** The child, bundled once: started with plain `node`, a cycle costs ~0.1 s instead of ~1 s with a loader. */
function bundleChild(dir: string): string {
  const outfile = path.join(dir, 'child.mjs');
  buildSync({
    entryPoints: [fileURLToPath(new URL('./fixtures/buffer-until-killed.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

interface Run {
  /** Highest id inserted (every id from the cycle's first up to it was); `first - 1` when none. */
  readonly inserted: number;
  /** Highest id `persisted()` acknowledged. */
  readonly persisted: number;
  /** Whether it got as far as `ready` (recovery finished). */
  readonly ready: boolean;
}

function runChild(
  child: string,
  dir: string,
  first: number,
  sync: string,
  kill: { after: 'spawn' | 'ready'; ms: number } | undefined,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const args = [child, dir, String(first), sync, kill === undefined ? 'drain' : 'insert'];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      timer = setTimeout(() => proc.kill('SIGKILL'), kill!.ms);
    };
    if (kill?.after === 'spawn') arm();
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (kill?.after === 'ready' && timer === undefined && stdout.includes('ready')) arm();
    });
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (kill !== undefined && signal !== 'SIGKILL') {
        return reject(new Error(`the child exited on its own (${code}): ${stderr}`));
      }
      if (kill === undefined && (code !== 0 || !stdout.includes('drained'))) {
        return reject(new Error(`the draining run failed (${code}, ${signal}): ${stderr}`));
      }
      const last = (word: string) =>
        Math.max(
          first - 1,
          ...[...stdout.matchAll(new RegExp(`${word} (\\d+)\\n`, 'g'))].map((m) => Number(m[1])),
        );
      resolve({ inserted: last('inserted'), persisted: last('persisted'), ready: stdout.includes('ready') });
    });
  });
}

interface Delivery {
  readonly run: number;
  readonly batchId: string;
  readonly key: string;
  readonly ids: number[];
}

/** The deliveries log, in order; lines torn by a kill (no closing `E`) are not deliveries. */
function readDeliveries(file: string, runOf: (batchId: string) => number): Delivery[] {
  const deliveries: Delivery[] = [];
  for (const line of readFileSync(file, 'latin1').split('\n')) {
    const match = /^D (\S+) (k\d+) ([\d,]+) E$/.exec(line);
    if (match === null) continue;
    const [, batchId, key, ids] = match as unknown as [string, string, string, string];
    deliveries.push({ run: runOf(batchId), batchId, key, ids: ids.split(',').map(Number) });
  }
  return deliveries;
}

describe('the buffer with a journal under kill -9 (crash loop)', () => {
  it(`delivers every persisted id, in per-key order, across ${CYCLES} random SIGKILLs`, {
    timeout: 60_000 + CYCLES * 2_000,
  }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'data-buffer-crash-loop-'));
    try {
      const child = bundleChild(dir);
      const rand = random(CYCLES);
      const runs: Run[] = [];
      let killedBeforeReady = 0;
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        // One in four kills counts from the spawn: some land while the child loads or recovers.
        const after = cycle % 4 === 3 ? 'spawn' : 'ready';
        const ms = after === 'spawn' ? Math.floor(rand() * 250) : Math.floor(rand() * 120);
        const run = await runChild(child, dir, cycle * BLOCK, SYNC_LEVELS[cycle % 3]!, { after, ms });
        if (!run.ready) killedBeforeReady++;
        runs.push(run);
      }
      await runChild(child, dir, CYCLES * BLOCK, 'process', undefined);

      // Batch ids are `<uuid of the buffer>-<n>`: the first delivery of an id tells which run made it.
      const firstRunOf = new Map<string, number>();
      let run = 0;
      const deliveries = readDeliveries(path.join(dir, 'deliveries.log'), (batchId) => {
        const prefix = batchId.slice(0, 36);
        if (!firstRunOf.has(prefix)) firstRunOf.set(prefix, run++);
        return firstRunOf.get(prefix)!;
      });

      const delivered = new Map<number, string>();
      const lastOfKey = new Map<string, number>();
      const batchesDelivered = new Set<string>();
      const duplicateBatches = new Set<string>();
      let duplicateItems = 0;
      for (const { batchId, key, ids } of deliveries) {
        const again = batchesDelivered.has(batchId);
        batchesDelivered.add(batchId);
        for (const id of ids) {
          const cycle = Math.floor(id / BLOCK);
          // Never inserted: outside every run's inserted range, or under another key.
          if (cycle >= CYCLES || id > runs[cycle]!.inserted) throw new Error(`id ${id} was never inserted`);
          expect(key).toBe(`k${id % 16}`);
          if (delivered.has(id)) {
            // A duplicate only re-delivers a batch under its own id: one that a kill caught in flight.
            if (!again) throw new Error(`id ${id} came again in a new batch ${batchId}`);
            duplicateItems++;
            duplicateBatches.add(batchId);
            continue;
          }
          delivered.set(id, batchId);
          // First deliveries of a key come in insert order.
          if ((lastOfKey.get(key) ?? -1) > id) throw new Error(`key ${key}: ${id} came after a later id`);
          lastOfKey.set(key, id);
        }
      }
      let persisted = 0;
      for (const [cycle, { persisted: through }] of runs.entries()) {
        for (let id = cycle * BLOCK; id <= through; id++) {
          if (!delivered.has(id)) throw new Error(`persisted id ${id} was never delivered`);
        }
        persisted += through - cycle * BLOCK + 1;
      }
      const figures = {
        cycles: CYCLES,
        killedBeforeReady,
        persisted,
        delivered: delivered.size,
        deliveries: deliveries.length,
        duplicateBatches: duplicateBatches.size,
        duplicateItems,
      };
      console.info(`crash loop: ${JSON.stringify(figures)}`);
      expect(persisted).toBeGreaterThan(CYCLES * 200);
      // Kills caught batches between delivery and settling, and they came back under the same id.
      expect(duplicateBatches.size).toBeGreaterThan(0);
      expect(killedBeforeReady).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
