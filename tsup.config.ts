import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';
import { buildName, entryPoints } from './scripts/entry-points.mjs';

export default defineConfig({
  // The package's entry points are listed once, in scripts/entry-points.mjs.
  entry: Object.fromEntries(Object.entries(entryPoints).map(([subpath, file]) => [buildName(subpath), file])),
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  // Entry points share the core's modules as chunks instead of each bundling its own copy: a
  // `NonRetryableError` thrown by `data-buffer/postgres` must be the class the buffer checks with `instanceof`.
  splitting: true,
  // Gives the CommonJS output an `import.meta.url`, which the optional-peer loader resolves from.
  shims: true,
  // The version the OpenTelemetry scopes carry, written into the code: nothing reads package.json at run time.
  define: {
    __DATA_BUFFER_VERSION__: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version),
  },
  // Integrations load their peers at run time; never bundle them.
  external: ['pg', '@electric-sql/pglite', '@opentelemetry/api', 'redis', 'ioredis'],
});
