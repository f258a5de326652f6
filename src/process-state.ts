/**
 * State that belongs to the process, not to one copy of the package. An app can load the package
 * twice (its ESM build through `import`, its CommonJS build through `require`); each copy then has its
 * own modules, but they must share the list of live buffers and the exit hook, or `closeOnSignals()`
 * of one copy would not see the buffers of the other and their items would be lost on SIGTERM.
 * @module
 */

/**
 * Returns the process-wide value under `Symbol.for('data-buffer.' + name)` on `globalThis`, creating it
 * with `create` the first time any copy asks. Its shape is a contract between copies (and versions) of
 * the package: only add to it.
 */
export function processWide<T extends object>(name: string, create: () => T): T {
  const key = Symbol.for(`data-buffer.${name}`);
  const global = globalThis as Record<symbol, unknown>;
  let value = global[key] as T | undefined;
  if (value === undefined) {
    value = create();
    Object.defineProperty(globalThis, key, { value, configurable: true });
  }
  return value;
}
