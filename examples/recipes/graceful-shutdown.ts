/**
 * Recipe: shut down without losing what is buffered. On SIGTERM (sent by Docker, Kubernetes, systemd)
 * or SIGINT (Ctrl-C): stop taking work, deliver what the buffer holds within a deadline, then exit.
 *
 *   npx tsx examples/recipes/graceful-shutdown.ts
 *   curl -X POST localhost:3000/signup     # a few times, then Ctrl-C
 *
 * Without a server to drain first, `closeOnSignals({ timeout: 20_000 })` from the library does
 * steps 2 and 3 for every buffer of the process.
 */
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataBuffer } from 'data-buffer';

/** Kubernetes kills a pod 30 s after SIGTERM unless told otherwise: be done well before. */
const CLOSE_TIMEOUT_MS = 20_000;
const HARD_EXIT_MS = 25_000;

const events = new DataBuffer<string, { at: number }>({
  interval: 5000,
  handleFlush: async (path, items) => {
    await sleep(200); // the database write
    console.log(`wrote ${items.length} ${path} event(s)`);
  },
  handleError: (path, items, error, info) => {
    // At the close deadline, what is left arrives here with reason 'shutdown': keep it somewhere.
    console.error(`${items.length} ${path} event(s) not written (${info.reason}): ${error.message}`);
  },
});

const server = createServer((req, res) => {
  events.insert(req.url ?? '/', { at: Date.now() });
  res.end('ok\n');
});
server.listen(Number(process.env.PORT ?? 3000));

let stopping = false;

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) process.exit(130); // a second Ctrl-C: leave now
  stopping = true;
  console.log(`${signal}: shutting down`);
  // A backstop in case something below hangs (a client that never finishes its request).
  setTimeout(() => process.exit(1), HARD_EXIT_MS).unref();

  // 1. Stop accepting connections and wait for the requests in progress: they may still insert.
  await new Promise((resolve) => server.close(resolve));
  // 2. Flush every key and wait for every batch, retries included. At the deadline, what is still
  //    undelivered goes to handleError with a ShutdownError.
  const report = await events.close({ timeout: CLOSE_TIMEOUT_MS });
  console.log(
    `closed: ${report.delivered} delivered, ${report.failed} failed (${report.abandoned} at the deadline)`,
  );
  // 3. Close what the handlers used (a database pool...), then exit.
  process.exit(report.failed > 0 ? 1 : 0);
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
