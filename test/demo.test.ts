/**
 * `npm run demo`, run as a user would (a child process, through tsx), for a second or two on the
 * embedded PGlite: every event must be stored, in far fewer statements than events.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedPostgres } from '../examples/demo/database.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runDemo(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'examples/demo/main.ts', ...args],
      { cwd: root, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The summary: the last line of standard output, one JSON object. */
function summaryOf(run: Run): Record<string, unknown> & { latencyMs: Record<string, number> } {
  const lines = run.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string);
}

describe('npm run demo', () => {
  beforeAll(async () => {
    // The first PGlite start on a machine creates a cluster (seconds of CPU) and caches it for the
    // demo; pay for it here, once, rather than inside a timed demo run.
    const pglite = await openEmbeddedPostgres();
    await pglite.close();
  }, 120_000);

  it('stores every event, in far fewer statements than events, and reports it as JSON', async () => {
    const run = await runDemo(['--seconds', '1.5', '--rate', '4000', '--json']);

    expect(run.code, run.stderr).toBe(0);
    const summary = summaryOf(run);
    expect(summary.events).toBe(6000);
    expect(summary.rowsStored).toBe(summary.events);
    expect(summary.ok).toBe(true);
    expect(summary.statements).toBeGreaterThan(0);
    expect(summary.statements).toBeLessThan((summary.events as number) / 10);
    expect(summary.latencyMs.count).toBeGreaterThan(0);
    expect(summary.latencyMs.p50).toBeGreaterThan(0);
    expect(summary.latencyMs.max).toBeGreaterThanOrEqual(summary.latencyMs.p99 as number);
    // Piped: no progress line (it is drawn only on a terminal).
    expect(run.stderr).not.toContain('\r');
  }, 60_000);

  it('keeps the count exact when a fifth of the flushes fail', async () => {
    const run = await runDemo(['--seconds', '1.5', '--rate', '4000', '--fail-rate', '0.2', '--json']);

    expect(run.code, run.stderr).toBe(0);
    const summary = summaryOf(run);
    expect(summary.events).toBe(6000);
    expect(summary.rowsStored).toBe(summary.events);
    expect(summary.retried).toBeGreaterThan(0);
    expect(summary.statements).toBeLessThan((summary.events as number) / 10);
  }, 60_000);

  it('rejects a bad option with exit code 2, naming it', async () => {
    const run = await runDemo(['--fail-rate', '2']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Expected --fail-rate to be a number from 0 to 1, got 2');
  }, 30_000);
});
