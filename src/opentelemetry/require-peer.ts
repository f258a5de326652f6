/**
 * Loads an optional peer dependency on first use, so that a missing one fails with an error that says
 * what to install instead of the runtime's bare "Cannot find package".
 * @module
 */
import { createRequire } from 'node:module';

/**
 * Thrown when an integration needs an optional peer dependency that is not installed.
 * `code` is `'ERR_MISSING_PEER'`; `cause` is the resolution error.
 */
export class MissingPeerError extends Error {
  /** Stable identifier of the failure. */
  readonly code = 'ERR_MISSING_PEER';
  /** The package to install. */
  readonly packageName: string;

  /**
   * @param packageName - the peer that could not be found.
   * @param feature - the entry point that needs it, as users import it.
   * @param cause - the resolution error.
   */
  constructor(packageName: string, feature: string, cause: unknown) {
    super(
      `${feature} needs the optional peer dependency \`${packageName}\`, which is not installed: run \`npm install ${packageName}\``,
      { cause },
    );
    this.packageName = packageName;
  }

  /** `'MissingPeerError'`. */
  override get name(): string {
    return 'MissingPeerError';
  }
}

/**
 * `require`s `packageName` from this package's location (synchronously, in both the ESM and the
 * CommonJS build), turning "module not found" into a {@link MissingPeerError}.
 * @param packageName - the peer dependency.
 * @param feature - the entry point that needs it, named in the error.
 */
export function requirePeer<T>(packageName: string, feature: string): T {
  // The build's `shims` option gives the CommonJS output an `import.meta.url` too.
  const require = createRequire(import.meta.url);
  try {
    return require(packageName) as T;
  } catch (error) {
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    // Only the peer itself missing: a broken install of it (a file of its own missing) stays as it is.
    const missing = code === 'MODULE_NOT_FOUND' && String(message).includes(`'${packageName}'`);
    if (missing) {
      throw new MissingPeerError(packageName, feature, error);
    }
    throw error;
  }
}
