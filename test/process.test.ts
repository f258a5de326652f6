import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Runs a fixture under Node with the TypeScript loader and collects its output. */
function run(name: string, args: string[] = [], onReady?: (child: ReturnType<typeof spawn>) => void) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture(name), ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk;
        if (onReady && stdout.includes('ready\n')) {
          const ready = onReady;
          onReady = undefined;
          ready(child);
        }
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk;
      });
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    },
  );
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1) as string);

describe('the host process', () => {
  it('delivers what is buffered when the process simply runs out of work', async () => {
    const result = await run('exit-with-buffered-items.ts');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const output = lastJson(result.stdout);
    expect(output).toMatchObject({ delivered: 1000, unique: 1000 });
    expect(output.stats).toMatchObject({ inserted: 1000, flushed: 1000, buffered: 0 });
  });

  it('still retries a failed flush before exiting', async () => {
    const result = await run('exit-with-buffered-items.ts', ['--fail-first']);
    expect(result.code).toBe(0);
    const output = lastJson(result.stdout);
    expect(output).toMatchObject({ delivered: 1000, unique: 1000 });
    expect(output.stats.retried).toBeGreaterThan(0);
  });

  it('closeOnSignals delivers everything on SIGTERM, then exits with 143', async () => {
    const result = await run('close-on-signal.ts', [], (child) => child.kill('SIGTERM'));
    expect(result.code).toBe(143);
    const output = lastJson(result.stdout);
    expect(output.delivered).toBe(500);
    expect(output.reports).toEqual([
      { delivered: 500, failed: 0, abandoned: 0, dropped: 0, unwritten: 0, unreturned: 0, timedOut: false },
    ]);
  });
});
