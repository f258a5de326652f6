/**
 * Graceful shutdown on SIGTERM / SIGINT: close every live buffer once, within a deadline, then exit.
 * @module
 */
import type { CloseReport } from './data-buffer.js';
import { describe, invalidArgType, invalidArgValue } from './errors.js';
import { type Closable, liveBuffers } from './live-buffers.js';
import { checkTimeout } from './option-checks.js';
import type { Logger } from './options.js';

/** Options of {@link closeOnSignals}. */
export interface CloseOnSignalsOptions {
  /** The buffers to close. @default every DataBuffer of the process not closed yet, at the time of the signal */
  buffers?: Iterable<Closable>;
  /** Signals to act on. @default ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[];
  /**
   * Deadline for closing all buffers, in ms; what is undelivered then goes to `handleError` (reason
   * `'shutdown'`). Keep it under your platform's grace period (Kubernetes: 30 s). @default 10000
   */
  timeout?: number;
  /**
   * Exit once the buffers are closed, with code 128 + the signal's number (143 for SIGTERM), as a
   * process killed by the signal would. Set `false` to let your own handler exit. @default true
   */
  exit?: boolean;
  /** Called with each buffer's report once all are closed, before exiting. */
  onClosed?: (reports: CloseReport[]) => void | Promise<void>;
  /** Where a failed close is reported. @default console */
  logger?: Logger;
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGTERM: 15,
};

/**
 * On the first of `signals`, closes the buffers (each once, in parallel, within `timeout`), then exits.
 * A second signal while closing exits at once. Returns a function that removes the listeners.
 *
 * @example
 * ```ts
 * closeOnSignals({ timeout: 20_000 }); // SIGTERM or Ctrl-C: deliver what is buffered, then exit
 * ```
 */
export function closeOnSignals(options: CloseOnSignalsOptions = {}): () => void {
  const { signals = ['SIGTERM', 'SIGINT'], timeout = 10_000, exit = true, logger = console } = options;
  if (!Array.isArray(signals) || signals.length === 0 || !signals.every((s) => typeof s === 'string')) {
    const report = Array.isArray(signals) && signals.length === 0 ? invalidArgValue : invalidArgType;
    throw report(`Expected \`signals\` to be a non-empty array of signal names, got ${describe(signals)}`);
  }
  checkTimeout(timeout);
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = 128 + (SIGNAL_NUMBERS[signal] ?? 0);
    if (closing) {
      // A second signal: the operator wants out now.
      if (exit) process.exit(code);
      return;
    }
    closing = true;
    const buffers = [...(options.buffers ?? liveBuffers())];
    void Promise.allSettled(buffers.map((buffer) => buffer.close({ timeout })))
      .then(async (results) => {
        const reports: CloseReport[] = [];
        for (const result of results) {
          if (result.status === 'fulfilled') reports.push(result.value);
          else logger.error('data-buffer: a buffer failed to close', { error: result.reason });
        }
        await options.onClosed?.(reports);
      })
      .catch((error: unknown) => logger.error('data-buffer: onClosed threw', { error }))
      .finally(() => {
        if (exit) process.exit(code);
      });
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
