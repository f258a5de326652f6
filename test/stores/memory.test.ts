import { MemoryStore } from '../../src/stores/memory.js';
import { describeStoreConformance } from './conformance.js';

describeStoreConformance('MemoryStore', () => new MemoryStore());
