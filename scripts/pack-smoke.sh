#!/usr/bin/env bash
# Packs the package as npm would publish it, checks the tarball with publint and
# @arethetypeswrong/cli (every entry point, every resolution mode: node10, node16 from CJS and ESM,
# bundler), installs it into a fresh project, and loads every entry point with `import` and with
# `require`, checking that the types resolve too. Any entry point that cannot be loaded fails the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
tarball=$(npm pack --silent --pack-destination "$work" 2>/dev/null | tail -n 1)
contents=$(tar -tzf "$work/$tarball")
echo "packed $tarball: $(wc -l <<<"$contents") files"
if grep -qE '^package/(src|test|bench)/' <<<"$contents"; then
  echo "the tarball ships sources or tests" >&2
  exit 1
fi
for file in LICENSE README.md package.json; do
  grep -qx "package/$file" <<<"$contents" || { echo "the tarball lacks $file" >&2; exit 1; }
done

# The README is read on npm and in node_modules, where only the tarball exists: a relative link to a
# file would be dead there. Links to the repository must name files that exist in it.
tar -xzf "$work/$tarball" -C "$work" package/README.md
node "$root/scripts/check-readme-links.mjs" "$work/package/README.md" "$root"

echo "== publint"
"$root/node_modules/.bin/publint" run "$work/$tarball" --strict
echo "== attw"
"$root/node_modules/.bin/attw" "$work/$tarball" --profile strict --format table-flipped --no-color

# The subpaths to load, from the one list of entry points ('' is the package itself).
subpaths=$(node --input-type=module -e "
  const { entryPoints } = await import('$root/scripts/entry-points.mjs');
  console.log(Object.keys(entryPoints).filter((s) => s !== '').join(' '));
")

cd "$work"
npm init -y >/dev/null 2>&1
npm install --no-audit --no-fund --silent "./$tarball" >/dev/null 2>&1

cat > esm.mjs <<'JS'
import { DataBuffer, NonRetryableError, closeOnSignals } from 'data-buffer';
const flushed = [];
const buffer = new DataBuffer({ handleFlush: (key, items) => { flushed.push([key, items]); } });
buffer.insert('k', 1);
await buffer.close();
if (JSON.stringify(flushed) !== '[["k",[1]]]' || typeof NonRetryableError !== 'function' || typeof closeOnSignals !== 'function') {
  throw new Error(`ESM import misbehaved: ${JSON.stringify(flushed)}`);
}
// Every subpath must load without its optional peers installed: they are required on first use.
for (const subpath of process.argv.slice(2)) {
  const entry = await import(`data-buffer/${subpath}`);
  if (Object.keys(entry).length === 0) throw new Error(`data-buffer/${subpath} exports nothing`);
}
await checkScopeVersion((await import('data-buffer/opentelemetry')).instrumentDataBuffer, buffer);
// The Redis store loads without either Redis client installed, and says what to install.
const { redisStore } = await import('data-buffer/redis');
try { redisStore({ client: undefined, namespace: 'n' }); throw new Error('redisStore took no client'); }
catch (error) { if (!/npm install redis/.test(error.message)) throw error; }
console.log('esm ok');

// The instrumentation scopes carry the package's version, written into each build.
async function checkScopeVersion(instrumentDataBuffer, buffer) {
  const { createRequire } = await import('node:module');
  const { version } = createRequire(import.meta.url)('data-buffer/package.json');
  const scopes = [];
  const meter = { createObservableCounter: () => ({}), createObservableUpDownCounter: () => ({}), createHistogram: () => ({ record() {} }), addBatchObservableCallback() {}, removeBatchObservableCallback() {} };
  instrumentDataBuffer(buffer, {
    meterProvider: { getMeter: (...scope) => (scopes.push(scope), meter) },
    tracerProvider: { getTracer: (...scope) => (scopes.push(scope), { startSpan() {} }) },
  }).stop();
  if (JSON.stringify(scopes) !== JSON.stringify([['data-buffer', version], ['data-buffer', version]])) {
    throw new Error(`scopes ${JSON.stringify(scopes)}, expected version ${version}`);
  }
}
JS
cat > cjs.cjs <<'JS'
const { DataBuffer } = require('data-buffer');
for (const subpath of process.argv.slice(2)) {
  const entry = require(`data-buffer/${subpath}`);
  if (Object.keys(entry).length === 0) throw new Error(`data-buffer/${subpath} exports nothing`);
}
const flushed = [];
const buffer = new DataBuffer({ handleFlush: (key, items) => { flushed.push([key, items]); } });
buffer.insert('k', 1);
buffer.close().then(() => {
  if (JSON.stringify(flushed) !== '[["k",[1]]]') throw new Error('CJS require misbehaved');
  const scopes = [];
  const meter = { createObservableCounter: () => ({}), createObservableUpDownCounter: () => ({}), createHistogram: () => ({ record() {} }), addBatchObservableCallback() {}, removeBatchObservableCallback() {} };
  require('data-buffer/opentelemetry').instrumentDataBuffer(buffer, {
    meterProvider: { getMeter: (...scope) => (scopes.push(scope), meter) },
    tracerProvider: { getTracer: (...scope) => (scopes.push(scope), { startSpan() {} }) },
  }).stop();
  const { version } = require('data-buffer/package.json');
  if (JSON.stringify(scopes) !== JSON.stringify([['data-buffer', version], ['data-buffer', version]])) {
    throw new Error(`CJS scopes ${JSON.stringify(scopes)}, expected version ${version}`);
  }
  if (typeof require('data-buffer/redis').redisStore !== 'function') throw new Error('CJS require of data-buffer/redis misbehaved');
  console.log('cjs ok');
});
JS
{
  echo "import { DataBuffer, type DataBufferStats } from 'data-buffer';"
  for subpath in $subpaths; do echo "import * as ${subpath//[^a-zA-Z]/_} from 'data-buffer/$subpath';"; done
  echo "const buffer = new DataBuffer<string, number>({ handleFlush: (_key: string, items: number[]) => { items.at(0); } });"
  echo "const stats: DataBufferStats = buffer.stats();"
  echo "export { stats };"
  for subpath in $subpaths; do echo "export const ${subpath//[^a-zA-Z]/_}Keys = Object.keys(${subpath//[^a-zA-Z]/_});"; done
} > types.mts
{
  echo "import dataBuffer = require('data-buffer');"
  for subpath in $subpaths; do echo "import ${subpath//[^a-zA-Z]/_} = require('data-buffer/$subpath');"; done
  echo "const buffer = new dataBuffer.DataBuffer<string, number>({ handleFlush: () => {} });"
  echo "export = [buffer, $(for subpath in $subpaths; do printf '%s, ' "${subpath//[^a-zA-Z]/_}"; done)];"
} > types.cts
# shellcheck disable=SC2086 # one argument per subpath
node esm.mjs $subpaths
# shellcheck disable=SC2086
node cjs.cjs $subpaths
# The integrations' types name their peers (`@opentelemetry/api`): a user of one has it installed.
# Link the repository's copies of the optional peers in (the loads above ran without them).
for peer in $(node -p "Object.keys(require('$root/package.json').peerDependencies ?? {}).join(' ')"); do
  if [ -d "$root/node_modules/$peer" ]; then
    mkdir -p "node_modules/$(dirname "$peer")"
    ln -s "$root/node_modules/$peer" "node_modules/$peer"
  fi
done
"$root/node_modules/.bin/tsc" --noEmit --strict --module nodenext --moduleResolution nodenext --skipLibCheck false \
  --types node --typeRoots "$root/node_modules/@types" types.mts types.cts
echo "types ok (ESM and CJS; entries: . $subpaths)"
