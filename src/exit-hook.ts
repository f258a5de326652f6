/**
 * Delivers buffered data when a process simply runs out of work. Our timers are unref'd, so an idle
 * process would exit with items still buffered; Node emits `beforeExit` first, and a drain started
 * there keeps the process alive until it is done. `beforeExit` is not emitted on `process.exit()` or
 * on signals: `close()` (see `closeOnSignals`) covers those.
 * @module
 */

import { processWide } from './process-state.js';

/**
 * The drains of every copy of the package in this process, and whether one `beforeExit` listener runs
 * them: one listener for the process, whichever copy installed it (see {@link processWide}).
 */
const exitHook = processWide('exit-hook', () => ({
  drains: new Map<object, () => void>(),
  listening: false,
}));
const drains = exitHook.drains;

function onBeforeExit(): void {
  for (const drain of [...drains.values()]) drain();
}

/** Calls `drain` at the next `beforeExit`, until {@link forgetExitDrain} is called for `owner`. */
export function drainBeforeExit(owner: object, drain: () => void): void {
  drains.set(owner, drain);
  if (!exitHook.listening) {
    process.on('beforeExit', onBeforeExit);
    exitHook.listening = true;
  }
}

/** Stops draining `owner` at exit (it has nothing left, or it closed). */
export function forgetExitDrain(owner: object): void {
  drains.delete(owner);
}
