/**
 * Recipe: log every request of a Fastify app into PostgreSQL, one INSERT per batch instead of one
 * per request.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx examples/recipes/fastify-request-log.ts
 *   curl localhost:3000/users/42     # the row reaches request_log within a second
 */

import { DataBuffer } from 'data-buffer';
import Fastify from 'fastify';
import {
  createRequestLogTable,
  pool,
  REQUEST_LOG,
  type RequestLog,
  writeRequestLogs,
} from './request-log-table.js';

await createRequestLogTable();

const requestLog = new DataBuffer<string, RequestLog>({
  interval: 1000,
  maxSize: 1000,
  flushTimeout: 10_000,
  handleFlush: writeRequestLogs,
  handleError: (_table, rows, error) => {
    console.error(`request_log: ${rows.length} row(s) not written: ${error.message}`);
  },
});

const app = Fastify();

app.addHook('onResponse', async (request, reply) => {
  requestLog.insert(REQUEST_LOG, {
    at: new Date(),
    method: request.method,
    route: request.routeOptions.url ?? request.url, // the pattern, `/users/:id`
    status: reply.statusCode,
    durationMs: reply.elapsedTime,
  });
});

// `app.close()` stops listening, lets the requests in progress finish (and log), then runs the
// onClose hooks: the buffer delivers what it holds, for 10 s at most.
app.addHook('onClose', async () => {
  await requestLog.close({ timeout: 10_000 });
  await pool.end();
});

app.get('/users/:id', async (request) => ({ user: (request.params as { id: string }).id }));

await app.listen({ port: Number(process.env.PORT ?? 3000) });

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    await app.close();
    process.exit(0);
  });
}
