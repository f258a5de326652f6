/**
 * The package's entry points, in one place. Adding one (say `data-buffer/journal`) is one line in
 * `entryPoints` below, then `npm run entry-points` to write package.json; tsup, TypeDoc and the
 * packed-package smoke test read this list, and CI fails when package.json or tsconfig.json is out of date.
 *
 * `node scripts/entry-points.mjs` rewrites package.json's `exports` and `typesVersions` (the latter
 * so that TypeScript's old `moduleResolution: node` finds `data-buffer/postgres` too: it ignores
 * `exports`), and tsconfig.json's `paths`, which map `data-buffer/…` to the sources: the recipes import
 * the package by its name, and on a fresh clone there is no `dist/` for the package's own `exports` to
 * point at (tsc and tsx read `paths`; Vitest gets the same map from vitest.config.ts). `--check` only
 * reports whether both files are up to date.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Subpath (`''` for the package itself) → source file. One line per entry point. */
export const entryPoints = {
  '': 'src/index.ts',
  postgres: 'src/postgres/index.ts',
  opentelemetry: 'src/opentelemetry/index.ts',
  journal: 'src/journal/index.ts',
  redis: 'src/redis/index.ts',
};

/** The build's name for an entry (its files are `dist/<name>.js`, `.cjs`, `.d.ts`, `.d.cts`). */
export function buildName(subpath) {
  return subpath === '' ? 'index' : subpath;
}

/** package.json's `exports` and `typesVersions`, as the entry points need them. */
export function packageFields() {
  const exports = {};
  const typesVersions = {};
  for (const subpath of Object.keys(entryPoints)) {
    const name = buildName(subpath);
    exports[subpath === '' ? '.' : `./${subpath}`] = {
      import: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
      require: { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` },
    };
    if (subpath !== '') typesVersions[subpath] = [`./dist/${name}.d.cts`];
  }
  exports['./package.json'] = './package.json';
  return { exports, typesVersions: { '*': typesVersions } };
}

/** Import specifier (`data-buffer`, `data-buffer/postgres`) → source file, for tsconfig `paths` and aliases. */
export function sourcePaths() {
  return Object.fromEntries(
    Object.entries(entryPoints).map(([subpath, file]) => [
      subpath === '' ? 'data-buffer' : `data-buffer/${subpath}`,
      `./${file}`,
    ]),
  );
}

const isMain =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const check = process.argv.includes('--check');
  const stale = [
    update('../package.json', (manifest) => ({ ...manifest, ...packageFields() })),
    update('../tsconfig.json', (tsconfig) => {
      const paths = Object.fromEntries(Object.entries(sourcePaths()).map(([name, file]) => [name, [file]]));
      return { ...tsconfig, compilerOptions: { ...tsconfig.compilerOptions, paths } };
    }),
  ].filter((file) => file !== undefined);
  if (check && stale.length > 0) {
    console.error(
      `${stale.join(' and ')} differ from scripts/entry-points.mjs: run \`npm run entry-points\``,
    );
    process.exit(1);
  }

  /** Rewrites a JSON file with `change` (unless --check); returns its name when it was out of date. */
  function update(relative, change) {
    const file = fileURLToPath(new URL(relative, import.meta.url));
    const text = readFileSync(file, 'utf8');
    const updated = `${JSON.stringify(change(JSON.parse(text)), null, 2)}\n`;
    if (updated === text) return undefined;
    if (!check) {
      writeFileSync(file, updated);
      console.log(`${path.basename(file)}: written from scripts/entry-points.mjs`);
    }
    return path.basename(file);
  }
}
