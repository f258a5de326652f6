/**
 * With `--journal`: the count of views across runs, kept next to the journal, so that the summary of
 * a run started after a `kill -9` can say how many views all runs produced and check the table against
 * it. A view counts once `persisted()` acknowledged it. Views inserted but not acknowledged when the
 * process died may have survived or not: the ledger reserves their ids before they are inserted, and the
 * next start counts those found in the journal or in the table.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Ids reserved at a time: the ledger is written once per this many views, before they exist. */
const RESERVE = 100_000;

interface LedgerState {
  /** Views of earlier runs and of this one, acknowledged (or found to have survived). */
  events: number;
  /** Every id up to this one is counted in `events` (or never existed). */
  countedThrough: number;
  /** Ids above `countedThrough` up to this one may exist; nothing above it does. */
  reservedThrough: number;
}

/** The count of views across runs of the demo on one journal directory. */
export class Ledger {
  readonly #file: string;
  #state: LedgerState;

  /** Reads the ledger in `dir` (a fresh one when there is none). */
  constructor(dir: string) {
    this.#file = path.join(dir, 'demo-ledger.json');
    try {
      this.#state = JSON.parse(readFileSync(this.#file, 'utf8')) as LedgerState;
    } catch {
      this.#state = { events: 0, countedThrough: -1, reservedThrough: -1 };
    }
  }

  /** Ids an earlier run reserved and did not count: they may exist. */
  get uncertain(): { from: number; through: number } {
    return { from: this.#state.countedThrough + 1, through: this.#state.reservedThrough };
  }

  /** Views counted so far (all runs). */
  get events(): number {
    return this.#state.events;
  }

  /** Settles the uncertain ids: `survived` of them exist (in the journal or in the table). */
  resolve(survived: number): void {
    const state = this.#state;
    state.events += survived;
    state.countedThrough = state.reservedThrough;
    this.#write();
  }

  /** The first id of this run. */
  get nextId(): number {
    return this.#state.countedThrough + 1;
  }

  /** Call before inserting the view `id`: reserves ids ahead (written before any view can exist). */
  reserve(id: number): void {
    if (id <= this.#state.reservedThrough) return;
    this.#state.reservedThrough = id + RESERVE;
    this.#write();
  }

  /** `persisted()` acknowledged every view up to `id`; `events` views in all. */
  acknowledged(id: number, events: number): void {
    if (id <= this.#state.countedThrough) return;
    this.#state.countedThrough = id;
    this.#state.events = events;
    this.#write();
  }

  #write(): void {
    // Write then rename: a kill mid-write leaves the previous ledger, never a torn one.
    const partial = `${this.#file}.partial`;
    writeFileSync(partial, JSON.stringify(this.#state));
    renameSync(partial, this.#file);
  }
}
