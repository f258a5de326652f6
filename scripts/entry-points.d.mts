/** Types of scripts/entry-points.mjs (plain JavaScript, so that Node runs it without a build). */

/** Subpath (`''` for the package itself) → source file. */
export declare const entryPoints: Readonly<Record<string, string>>;
/** The build's name for an entry: its files are `dist/<name>.js`, `.cjs`, `.d.ts`, `.d.cts`. */
export declare function buildName(subpath: string): string;
/** package.json's `exports` and `typesVersions`, as the entry points need them. */
export declare function packageFields(): {
  exports: Record<string, unknown>;
  typesVersions: Record<string, unknown>;
};
/** Import specifier (`data-buffer`, `data-buffer/postgres`) → source file, for tsconfig `paths` and aliases. */
export declare function sourcePaths(): Record<string, string>;
