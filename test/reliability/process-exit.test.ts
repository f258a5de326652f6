/**
 * Natural process exit with flushes in flight: a child process inserts, starts flushes and lets its
 * event loop drain; everything must be delivered (retries included) before it exits.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/natural-exit.ts', import.meta.url));

it('fault matrix: the process exits naturally with flushes in flight and buffered items: all are delivered', async () => {
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk;
      });
      child.stderr.on('data', (chunk: Buffer) => {
        err += chunk;
      });
      child.on('error', reject);
      child.on('close', (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
    },
  );
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const result = JSON.parse(stdout.trim().split('\n').at(-1) as string);
  // Batches were queued or running when the script's last line ran.
  expect(result.inFlightAtEnd).toBeGreaterThan(0);
  expect(result).toMatchObject({ inserted: 5000, delivered: 5000, duplicated: 0, errored: 0 });
  expect(result.stats).toMatchObject({ inserted: 5000, flushed: 5000, failed: 0, buffered: 0, lost: 0 });
  expect(result.stats.retried).toBeGreaterThan(0);
});
