/**
 * The package's entry points, in one place. Adding one (say `data-buffer/journal`) is one line in
 * `entryPoints` below, then `npm run entry-points` to write package.json; tsup, TypeDoc and the
 * packed-package smoke test read this list, and CI fails when package.json is out of date.
 *
 * `node scripts/entry-points.mjs` rewrites package.json's `exports` and `typesVersions` (the latter
 * so that TypeScript's old `moduleResolution: node` finds `data-buffer/postgres` too: it ignores
 * `exports`). `--check` only reports whether package.json is up to date.
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

const isMain =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const file = fileURLToPath(new URL('../package.json', import.meta.url));
  const text = readFileSync(file, 'utf8');
  const manifest = { ...JSON.parse(text), ...packageFields() };
  const updated = `${JSON.stringify(manifest, null, 2)}\n`;
  if (process.argv.includes('--check')) {
    if (updated !== text) {
      console.error(
        'package.json exports/typesVersions differ from scripts/entry-points.mjs: run `npm run entry-points`',
      );
      process.exit(1);
    }
  } else if (updated !== text) {
    writeFileSync(file, updated);
    console.log('package.json: exports and typesVersions written');
  }
}
