import { existsSync } from 'node:fs';
import { defineConfig } from 'tsup';

/** The package's entry points: the core, and each optional integration once it exists. */
const entries = {
  index: 'src/index.ts',
  postgres: 'src/postgres/index.ts',
  opentelemetry: 'src/opentelemetry/index.ts',
  redis: 'src/redis/index.ts',
};

export default defineConfig({
  entry: Object.fromEntries(Object.entries(entries).filter(([, file]) => existsSync(file))),
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
  // Integrations load their peers at run time; never bundle them.
  external: ['pg', '@electric-sql/pglite', '@opentelemetry/api', 'redis', 'ioredis'],
});
