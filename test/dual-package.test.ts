/**
 * One process, two copies of the package: its CommonJS build loaded through `require` and its ESM build
 * through `import`. They must behave as one: `closeOnSignals()` of either closes the buffers of both, and
 * `instanceof` on the error classes holds across them. The package is built (without types) into a
 * temporary folder first, so the test needs no `dist/` and runs before `npm run build` in CI.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import config from '../tsup.config.js';

const root = fileURLToPath(new URL('..', import.meta.url));
let app: string;

beforeAll(async () => {
  app = mkdtempSync(join(tmpdir(), 'data-buffer-dual-'));
  const pkg = join(app, 'node_modules', 'data-buffer');
  mkdirSync(pkg, { recursive: true });
  copyFileSync(join(root, 'package.json'), join(pkg, 'package.json'));
  // The package's own build settings; only the type declarations, the slow part, are skipped.
  await build({
    ...(config as object),
    config: false,
    dts: false,
    sourcemap: false,
    silent: true,
    outDir: join(pkg, 'dist'),
  });
  copyFileSync(join(root, 'test/fixtures/dual-package.mjs'), join(app, 'main.mjs'));
}, 60_000);

afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

/** Runs the app, sends SIGTERM once it is ready, and collects its exit and output. */
function runUntilSigterm() {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [join(app, 'main.mjs')], {
      cwd: app,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (!signalled && stdout.includes('ready\n')) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the ESM and CommonJS builds in one process', () => {
  it('closeOnSignals from the ESM build delivers every item of a buffer made through require', async () => {
    const result = await runUntilSigterm();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(143);
    const output = JSON.parse(result.stdout.trim().split('\n').at(-1) as string);
    expect(output).toMatchObject({ copiesDiffer: true, delivered: 500, unique: 500 });
    expect(output.reports).toEqual([
      { delivered: 500, failed: 0, abandoned: 0, dropped: 0, unwritten: 0, unreturned: 0, timedOut: false },
    ]);
  });

  it("brands the error classes: instanceof holds across the copies, and a buffer honours the other copy's NonRetryableError", async () => {
    const result = await runUntilSigterm();
    const output = JSON.parse(result.stdout.trim().split('\n').at(-1) as string);
    expect(output).toMatchObject({
      esmErrorIsCjsClass: true,
      cjsErrorIsEsmBase: true,
      strictAttempts: 1,
      strictReason: 'non-retryable',
    });
  });
});
