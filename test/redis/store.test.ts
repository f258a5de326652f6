import { describeSharedStoreConformance } from './conformance.js';
import { redisAvailable, singleServer } from './server.js';

const available = await redisAvailable('test/redis/store.test.ts');

if (available) {
  describeSharedStoreConformance(singleServer.redis);
  describeSharedStoreConformance(singleServer.ioredis);
}
