#!/usr/bin/env bash
# Packs the package as npm would publish it, installs the tarball into a fresh project, and loads every
# entry point with `import` and with `require`, checking that the types resolve too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
tarball=$(npm pack --silent --pack-destination "$work" 2>/dev/null | tail -n 1)
echo "packed $tarball: $(tar -tzf "$work/$tarball" | wc -l) files"
if tar -tzf "$work/$tarball" | grep -qE '^package/(src|test|bench)/'; then
  echo "the tarball ships sources or tests" >&2
  exit 1
fi

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
for (const entry of ['data-buffer/postgres', 'data-buffer/opentelemetry']) {
  try { await import(entry); } catch (error) { if (error.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED' && error.code !== 'ERR_MODULE_NOT_FOUND') throw error; }
}
// The Redis store loads without either Redis client installed, and says what to install.
const { redisStore } = await import('data-buffer/redis');
try { redisStore({ client: undefined, namespace: 'n' }); throw new Error('redisStore took no client'); }
catch (error) { if (!/npm install redis/.test(error.message)) throw error; }
console.log('esm ok');
JS
cat > cjs.cjs <<'JS'
const { DataBuffer } = require('data-buffer');
const flushed = [];
const buffer = new DataBuffer({ handleFlush: (key, items) => { flushed.push([key, items]); } });
buffer.insert('k', 1);
buffer.close().then(() => {
  if (JSON.stringify(flushed) !== '[["k",[1]]]') throw new Error('CJS require misbehaved');
  if (typeof require('data-buffer/redis').redisStore !== 'function') throw new Error('CJS require of data-buffer/redis misbehaved');
  console.log('cjs ok');
});
JS
cat > types.mts <<'TS'
import { DataBuffer, type DataBufferStats } from 'data-buffer';
const buffer = new DataBuffer<string, number>({ handleFlush: (_key: string, items: number[]) => { items.at(0); } });
const stats: DataBufferStats = buffer.stats();
export { stats };
TS
cat > types.cts <<'TS'
import dataBuffer = require('data-buffer');
const buffer = new dataBuffer.DataBuffer<string, number>({ handleFlush: () => {} });
export = buffer;
TS
node esm.mjs
node cjs.cjs
"$root/node_modules/.bin/tsc" --noEmit --strict --module nodenext --moduleResolution nodenext --skipLibCheck false \
  --types node --typeRoots "$root/node_modules/@types" types.mts types.cts
echo "types ok (ESM and CJS)"
