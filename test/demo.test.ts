/**
 * `npm run demo`, run as a user would (a child process, through tsx), for a second or two on the
 * embedded PGlite: every event must be stored, in far fewer statements than events; `--seconds` is a
 * duration, Ctrl-C ends it with a summary, `--json` pipes through npm.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openEmbeddedPostgres } from '../examples/demo/database.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runDemo(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'examples/demo/main.ts', ...args],
      { cwd: root, timeout: 60_000, env },
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
    // Paced on the clock for 1.5 s: all but the last slice's worth of the 6,000 due.
    expect(summary.events).toBeGreaterThan(5000);
    expect(summary.events).toBeLessThanOrEqual(6000);
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
    expect(summary.events).toBeGreaterThan(5000);
    expect(summary.rowsStored).toBe(summary.events);
    expect(summary.retried).toBeGreaterThan(0);
    expect(summary.statements).toBeLessThan((summary.events as number) / 10);
  }, 60_000);

  it('rejects a bad option with exit code 2, naming it', async () => {
    const run = await runDemo(['--fail-rate', '2']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Expected --fail-rate to be a number from 0 to 1, got 2');
  }, 30_000);

  it('treats --seconds as a duration: a rate the database cannot take ends on time, producing less', async () => {
    const run = await runDemo(['--seconds', '1', '--rate', '1e7', '--json']);

    expect(run.code, run.stderr).toBe(0);
    const summary = summaryOf(run);
    expect(summary.producedSeconds).toBeGreaterThan(0.9);
    expect(summary.producedSeconds).toBeLessThanOrEqual(1);
    expect(summary.events).toBeLessThan(10_000_000);
    expect(summary.producedPerSecond).toBeLessThan(summary.rate as number);
    expect(summary.waitedSeconds).toBeGreaterThan(0); // the full buffer held production back
    expect(summary.rowsStored).toBe(summary.events);
  }, 60_000);

  it('stops on Ctrl-C while production waits on a full buffer, and still prints the summary', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'examples/demo/main.ts',
        '--rate',
        '1e7',
        '--seconds',
        '600',
        '--json',
        '--progress',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Whatever happens below, leave no demo running.
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    // Progress from the first second, then a full buffer (maxBuffered 20,000): production waits on it.
    let early = false;
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        for (const frame of stderr.split('\r').map(progressFrame)) {
          if (frame === undefined) continue;
          if (frame.events > 0 && frame.seconds <= 1) early = true;
          if (early && frame.buffered >= 19_500) resolve();
        }
      });
      void exited.then(() => reject(new Error(`the demo ended before its buffer filled:\n${stderr}`)));
    });
    const signalled = performance.now();
    child.kill('SIGINT');
    const code = await exited;
    const stoppedMs = performance.now() - signalled;

    expect(code, stderr).toBe(130);
    const summary = summaryOf({ code, stdout, stderr });
    expect(summary.interrupted).toBe(true);
    expect(summary.ok).toBe(true);
    expect(summary.rowsStored).toBe(summary.events);
    expect(summary.waitedSeconds).toBeGreaterThan(0);
    // Production stops at once; close() delivers at most the 20,000 buffered views, then the summary.
    // Generous for a busy machine: the point is that it does not wait out --seconds 600.
    expect(stoppedMs).toBeLessThan(10_000);
  }, 60_000);

  it('shows that it is creating the embedded database on a first start, and says so honestly when --seconds is 0', async () => {
    const cache = await mkdtemp(path.join(tmpdir(), 'data-buffer-demo-cache-'));
    try {
      const run = await runDemo(['--seconds', '0', '--progress'], {
        ...process.env,
        DATA_BUFFER_DEMO_CACHE: cache,
      });

      expect(run.code, run.stderr).toBe(0);
      // A line that counts the seconds while the cluster is created (on a worker thread), then its time.
      const ticks = run.stderr
        .split('\r')
        .filter((line) => /Creating the embedded PostgreSQL cluster.*… \d+\.\d s/.test(line));
      expect(new Set(ticks).size).toBeGreaterThan(1);
      expect(run.stderr).toMatch(/Creating the embedded PostgreSQL cluster.*: done in \d+\.\d s/);
      expect(run.stdout).toContain('no page views were produced, so there was nothing to store or check');
      expect(run.stdout).not.toContain('every event stored');
      expect(run.stdout).not.toContain('fewer');
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  }, 120_000);

  it('--journal: killed with kill -9 mid-run, a second start delivers the recovered events first, and the count is exact', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'data-buffer-demo-journal-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const ledger = path.join(dir, 'demo-ledger.json');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'examples/demo/main.ts', '--seconds', '60', '--rate', '5000', '--journal', dir],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    // Killed once it has run a while: views acknowledged by persisted(), more buffered (a 1 s interval).
    const acknowledged = async () => {
      const text = await readFile(ledger, 'utf8').catch(() => '{}');
      return (JSON.parse(text) as { events?: number }).events ?? 0;
    };
    while ((await acknowledged()) < 2000) await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const before = await acknowledged();

    const run = await runDemo(['--seconds', '0.5', '--rate', '2000', '--journal', dir, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const summary = summaryOf(run) as ReturnType<typeof summaryOf> & {
      journal: { earlierEvents: number; recoveredEvents: number; eventsThisRun: number };
    };
    expect(run.stderr).toMatch(/page views recovered from the journal/);
    expect(summary.journal.recoveredEvents).toBeGreaterThan(0);
    expect(summary.journal.earlierEvents).toBeGreaterThanOrEqual(before);
    expect(summary.events).toBe(summary.journal.earlierEvents + summary.journal.eventsThisRun);
    expect(summary.rowsStored).toBe(summary.events);
    expect(summary.ok).toBe(true);
  }, 120_000);

  it('prints JSON that pipes through `npm run -s demo -- --json`, as documented', async () => {
    const run = await new Promise<Run>((resolve) => {
      execFile(
        'npm',
        ['run', '-s', 'demo', '--', '--seconds', '0.5', '--rate', '2000', '--json'],
        { cwd: root, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
      );
    });

    expect(run.code, run.stderr).toBe(0);
    // The whole of standard output is one JSON document, as `| jq .` needs.
    const summary = JSON.parse(run.stdout);
    expect(summary.ok).toBe(true);
    expect(summary.checked).toBe(true);
    expect(summary.statementsOnePerEvent).toBe(summary.events);
  }, 60_000);
});

/** A progress line's elapsed seconds, events and buffered items (`  0.4s  27K events …  buffered 20K`). */
function progressFrame(line: string): { seconds: number; events: number; buffered: number } | undefined {
  const match = /^\s*(\d+\.\d)s\s+([\d.]+[KMB]?) events.*buffered ([\d.]+[KMB]?)/.exec(
    line.replaceAll('\u001b[2K', ''),
  );
  if (match === null) return undefined;
  return {
    seconds: Number(match[1]),
    events: compact(match[2] as string),
    buffered: compact(match[3] as string),
  };
}

/** `27.5K` as 27500. */
function compact(text: string): number {
  const scale = { K: 1e3, M: 1e6, B: 1e9 }[text.at(-1) as 'K' | 'M' | 'B'] ?? 1;
  return Number.parseFloat(text) * scale;
}
