/** The local-backend conformance suite, against the test backend and the journal (on the fake file system). */
import type { LocalBackend } from '../../src/index.js';
import { journal } from '../../src/journal/index.js';
import { FakeFs } from '../journal/fake-fs.js';
import { describeLocalBackendConformance } from './local-backend-conformance.js';
import { testBackend } from './test-backend.js';

describeLocalBackendConformance('the test backend', { create: () => testBackend<string, number>().backend });

const disks = new WeakMap<LocalBackend<string, number>, FakeFs>();
const journalOn = (fs: FakeFs) => {
  const backend = journal<string, number>({ dir: '/journal', fs, segmentBytes: 4096 });
  disks.set(backend, fs);
  return backend;
};
describeLocalBackendConformance('the journal', {
  create: () => journalOn(new FakeFs()),
  reopen: (previous) => journalOn(disks.get(previous)!.kill()),
});
