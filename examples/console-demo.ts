/**
 * The smallest useful program: insert page views under their path and watch them flush in batches.
 * Run with `npm run demo`.
 */
import { DataBuffer } from '../src/index.js';

interface PageView {
  path: string;
  user: string;
  at: number;
}

const buffer = new DataBuffer<string, PageView>({
  interval: 500,
  maxSize: 50,
  handleFlush: async (path, views, info) => {
    console.log(`flush ${path}: ${views.length} view(s) (attempt ${info.attempt}, batch ${info.batchId})`);
  },
});

const paths = ['/', '/pricing', '/docs', '/blog'];
for (let i = 0; i < 300; i++) {
  const path = paths[i % paths.length] as string;
  buffer.insert(path, { path, user: `user-${i % 17}`, at: Date.now() });
}
console.log(`inserted 300 views; ${buffer.size} buffered`);
const report = await buffer.close();
console.log('closed:', report, buffer.stats());
