/**
 * The recipes import the package by its name, as a user's copy would, and run as they are: tsx and
 * tsc map `data-buffer/…` to the sources through tsconfig.json's `paths` (so no build is needed), and
 * Vitest through vitest.config.ts.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as fromName from 'data-buffer';
import * as fromOpenTelemetry from 'data-buffer/opentelemetry';
import { describe, expect, it } from 'vitest';
import * as fromSource from '../src/index.js';
import * as openTelemetrySource from '../src/opentelemetry/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const recipes = path.join(root, 'examples', 'recipes');

describe('recipes', () => {
  it('import data-buffer by its name, never from the sources', async () => {
    for (const file of await readdir(recipes)) {
      const text = await readFile(path.join(recipes, file), 'utf8');
      expect({ file, relative: /from '\.\.?\/.*src\//.test(text) }).toEqual({ file, relative: false });
      expect({ file, byName: /from 'data-buffer(\/[a-z]+)?'/.test(text) }).toEqual({ file, byName: true });
    }
  });

  it('resolve to the sources in the tests', () => {
    expect(fromName.DataBuffer).toBe(fromSource.DataBuffer);
    expect(fromOpenTelemetry.instrumentDataBuffer).toBe(openTelemetrySource.instrumentDataBuffer);
  });

  it('run as documented (`npx tsx examples/recipes/metrics.ts`), with or without a build', async () => {
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'examples/recipes/metrics.ts'],
        { cwd: root, timeout: 30_000 },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
      );
    });

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/stats: \d+ inserted, \d+ flushed/);
  }, 30_000);
});
