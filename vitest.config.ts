import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { sourcePaths } from './scripts/entry-points.mjs';

export default defineConfig({
  // `import … from 'data-buffer'` (the recipes) means the sources, as tsconfig.json's `paths` say for tsc
  // and tsx: on a fresh clone there is no dist/ yet.
  resolve: {
    alias: Object.entries(sourcePaths()).map(([name, file]) => ({
      find: new RegExp(`^${name}$`),
      replacement: fileURLToPath(new URL(file, import.meta.url)),
    })),
  },
  test: {
    include: ['test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
    testTimeout: 20_000,
    // In CI, also write a machine-readable report: .ci/run prints its totals as a plain summary line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-report.json' }]] : ['default'],
  },
});
