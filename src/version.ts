/**
 * The package's version, for the OpenTelemetry instrumentation scopes.
 * @module
 */
import { createRequire } from 'node:module';

/** Replaced by the build (tsup `define`) with package.json's version; absent when running from source. */
declare const __DATA_BUFFER_VERSION__: string | undefined;

/**
 * The version of data-buffer, from package.json. The build writes it into the ESM and CommonJS code
 * alike, so nothing reads package.json at run time; from source (tests, tsx) it is read from there.
 * @internal
 */
export const VERSION: string =
  typeof __DATA_BUFFER_VERSION__ === 'string' ? __DATA_BUFFER_VERSION__ : versionFromPackageJson();

function versionFromPackageJson(): string {
  // src/version.ts → ../package.json; only ever run from source, where that is where it is.
  const manifest = createRequire(import.meta.url)('../package.json') as { version: string };
  return manifest.version;
}
