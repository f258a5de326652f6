/**
 * kill -9 on the real file system: a child writes turn after turn and prints what `durable()`
 * acknowledged; the parent kills it with SIGKILL at a random moment (mid-write, mid-sync, and in every
 * third cycle counted from its start, so possibly while it recovers), and checks that every acknowledged item comes back, in per-key order, and nothing that
 * was never written.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { journal } from '../../src/journal/index.js';
import { random } from './fake-fs.js';

const fixture = fileURLToPath(new URL('./fixtures/write-until-killed.ts', import.meta.url));
const CYCLES = 8;

function runUntilKilled(
  dir: string,
  first: number,
  sync: string,
  delay: number,
  early: boolean,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir, String(first), sync, '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    // Early: counted from the start, so that some kills land while the child loads or recovers.
    let timer: NodeJS.Timeout | undefined = early
      ? setTimeout(() => child.kill('SIGKILL'), delay * 2)
      : undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (timer === undefined && stdout.includes('ready'))
        timer = setTimeout(() => child.kill('SIGKILL'), delay);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`the writer exited on its own: ${stderr}`));
      const acked = [...stdout.matchAll(/acked (\d+)\n/g)].map((match) => Number(match[1]));
      resolve(acked.length === 0 ? first - 1 : Math.max(...acked));
    });
  });
}

describe('journal under kill -9 (real file system)', () => {
  it.each(['process', 'always'])(
    `'%s': every acknowledged item survives ${CYCLES} random SIGKILLs`,
    { timeout: 60_000 },
    async (sync) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'data-buffer-journal-kill-'));
      const rand = random(sync.length);
      try {
        const acknowledged: Array<[number, number]> = [];
        for (let cycle = 0; cycle < CYCLES; cycle++) {
          const first = cycle * 1_000_000;
          const last = await runUntilKilled(dir, first, sync, 50 + Math.floor(rand() * 400), cycle % 3 === 2);
          acknowledged.push([first, last]);
        }
        const backend = journal<string, number>({ dir });
        backend.open({ maxSize: 100, interval: 1000, partitions: 1 });
        const found = new Set<number>();
        for (const batch of backend.recover()) {
          let previous = -1;
          for (const id of batch.items) {
            expect(batch.key).toBe(`key-${id % 8}`);
            expect(id).toBeGreaterThan(previous);
            expect(id % 1_000_000).toBeLessThan(900_000);
            previous = id;
            found.add(id);
          }
        }
        let total = 0;
        for (const [first, last] of acknowledged) {
          for (let id = first; id <= last; id++)
            if (!found.has(id)) throw new Error(`acknowledged item ${id} was lost`);
          total += last - first + 1;
        }
        expect(total).toBeGreaterThan(CYCLES * 50);
        await backend.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
