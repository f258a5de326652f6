/**
 * Delivers buffered data when a process simply runs out of work. Our timers are unref'd, so an idle
 * process would exit with items still buffered; Node emits `beforeExit` first, and a drain started
 * there keeps the process alive until it is done. `beforeExit` is not emitted on `process.exit()` or
 * on signals: `close()` (see `closeOnSignals`) covers those.
 * @module
 */

const drains = new Map<object, () => void>();
let listening = false;

function onBeforeExit(): void {
  for (const drain of [...drains.values()]) drain();
}

/** Calls `drain` at the next `beforeExit`, until {@link forgetExitDrain} is called for `owner`. */
export function drainBeforeExit(owner: object, drain: () => void): void {
  drains.set(owner, drain);
  if (!listening) {
    process.on('beforeExit', onBeforeExit);
    listening = true;
  }
}

/** Stops draining `owner` at exit (it has nothing left, or it closed). */
export function forgetExitDrain(owner: object): void {
  drains.delete(owner);
}
