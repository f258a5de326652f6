/**
 * The published `data-buffer/postgres` entry point, built as `npm run build` builds it: it loads no
 * driver, and the `NonRetryableError` it throws is the very class the buffer checks, in ESM and CJS.
 * (Were each entry to bundle its own copy of the core, `instanceof` would fail and every constraint
 * violation would be retried `retryMax` times.)
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs in a child process against the built files: how a failing constraint travels through the buffer. */
const probe = (format: 'esm' | 'cjs', dist: string) => `
  const load = ${format === 'esm' ? '(file) => import(file)' : '(file) => Promise.resolve(require(file))'};
  (async () => {
    const { DataBuffer } = await load(${JSON.stringify(path.join(dist, format === 'esm' ? 'index.js' : 'index.cjs'))});
    const { postgresSink } = await load(${JSON.stringify(path.join(dist, format === 'esm' ? 'postgres.js' : 'postgres.cjs'))});
    const db = { query: async () => { throw Object.assign(new Error('duplicate key'), { code: '23505', severity: 'ERROR' }); } };
    const sink = postgresSink({ pool: db, table: 't', columns: { v: { type: 'text', value: (v) => v } } });
    let attempts = 0;
    let reason;
    const buffer = new DataBuffer({
      retryDelay: 1,
      retryMax: 5,
      flushOnExit: false,
      handleFlush: (key, items, info) => { attempts++; return sink(key, items, info); },
      handleError: (key, items, error, info) => { reason = info.reason; },
    });
    buffer.insert('k', 'x');
    await buffer.close();
    console.log(JSON.stringify({ attempts, reason }));
  })();
`;

describe('the built data-buffer/postgres entry point', () => {
  let dist: string;

  beforeAll(async () => {
    dist = await mkdtemp(path.join(tmpdir(), 'data-buffer-dist-'));
    await run(path.join(root, 'node_modules/.bin/tsup'), ['--out-dir', dist, '--no-dts', '--no-sourcemap'], {
      cwd: root,
    });
  }, 60_000);

  afterAll(async () => {
    if (dist !== undefined) await rm(dist, { recursive: true, force: true });
  });

  it('imports neither pg nor PGlite', async () => {
    for (const file of ['postgres.js', 'postgres.cjs']) {
      const code = await readFile(path.join(dist, file), 'utf8');
      expect(code, file).not.toMatch(/(from|import\(|require\()\s*["'](pg|@electric-sql\/pglite)["']/);
    }
  });

  it.each(['esm', 'cjs'] as const)(
    '%s: a non-retryable error from the sink skips the retries',
    async (format) => {
      const { stdout } = await run(process.execPath, [
        ...(format === 'esm' ? ['--input-type=module'] : []),
        '-e',
        probe(format, dist),
      ]);
      expect(JSON.parse(stdout)).toEqual({ attempts: 1, reason: 'non-retryable' });
    },
  );
});
