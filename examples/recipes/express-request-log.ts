/**
 * Recipe: log every request of an Express app into PostgreSQL, one INSERT per batch instead of one
 * per request.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx examples/recipes/express-request-log.ts
 *   curl localhost:3000/hello        # the row reaches request_log within a second
 */

import { DataBuffer } from 'data-buffer';
import express from 'express';
import {
  createRequestLogTable,
  pool,
  REQUEST_LOG,
  type RequestLog,
  writeRequestLogs,
} from './request-log-table.js';

await createRequestLogTable();

const requestLog = new DataBuffer<string, RequestLog>({
  interval: 1000, // a request is in the table about a second later...
  maxSize: 1000, // ...or sooner under load: at most 1000 rows per statement
  flushTimeout: 10_000, // a stuck INSERT is cancelled, then retried
  handleFlush: writeRequestLogs,
  handleError: (_table, rows, error) => {
    console.error(`request_log: ${rows.length} row(s) not written: ${error.message}`);
  },
});

const app = express();
app.use((req, res, next) => {
  const started = performance.now();
  res.on('finish', () => {
    requestLog.insert(REQUEST_LOG, {
      at: new Date(),
      method: req.method,
      route: req.route?.path ?? req.path, // `req.route` is set once a route matched
      status: res.statusCode,
      durationMs: performance.now() - started,
    });
  });
  next();
});
app.get('/hello', (_req, res) => {
  res.send('hello\n');
});

const server = app.listen(Number(process.env.PORT ?? 3000));

// Stop taking requests (those in progress still log), deliver the buffered rows, then exit.
// graceful-shutdown.ts explains each step.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    await new Promise((resolve) => server.close(resolve));
    await requestLog.close({ timeout: 10_000 });
    await pool.end();
    process.exit(0);
  });
}
