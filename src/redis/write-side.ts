/**
 * The write side of the Redis store: what the buffer stages once per turn becomes the writer's
 * appends (`writer.ts`): each key encoded to its member and partition, each value serialized, and,
 * with the journal in front (`journal-front.ts`), journaled side by side. At open, what the journal
 * recovered goes to Redis first. The claim side is `claimer.ts`; `store.ts` joins the two.
 *
 * Invariants:
 * - **A write reads everything it needs before it returns:** the buffer's staging ring reuses its
 *   arrays after `write`.
 * - **Recovered items go first:** a key's items an earlier run journaled and Redis never confirmed
 *   reach the writer before any new item of that key.
 * - **With a journal, a write settles once both sides have it** (the journal at its `sync` level,
 *   Redis confirmed), and its items leave the journal only once Redis confirmed them.
 * @module
 */
import type { BackendContext, RecoveredBatch, Staged } from '../backend.js';
import { jsonTextStart } from '../journal/codec.js';
import { RedisStoreError } from './errors.js';
import { JournalFront } from './journal-front.js';
import { decodeMember, describe, encodeKey, partitionOf, type RedisKey } from './keys.js';
import type { ResolvedRedisStoreOptions } from './options.js';
import { APPEND_FULL, APPEND_OPENED } from './scripts.js';
import type { RedisStoreStats } from './stats.js';
import { EncodedItems } from './text-run.js';
import { Writer, type WriterContext } from './writer.js';

/** Keys whose encoded name and partition the write side keeps between writes (see `#members`). */
const MEMBER_CACHE_SIZE = 10_000;

/**
 * What the write side needs from its store, handed over when it is built: what its writer needs
 * (all but `appended`, which the write side answers), and the options it writes by.
 */
export interface WriteSideContext<K extends RedisKey, V>
  extends Omit<WriterContext, 'appended'>,
    Pick<ResolvedRedisStoreOptions<V, K>, 'partitions' | 'serialize' | 'journal'> {}

/** Turns staged inserts into appends, journal first; see the module comment. */
export class WriteSide<K extends RedisKey, V> {
  readonly #partitions: number;
  readonly #namespace: string;
  readonly #stats: RedisStoreStats;
  readonly #serializeValue: (value: V) => string;
  /** With a journal in front: the journal's side of every write. */
  readonly #front: JournalFront<K, V> | undefined;
  readonly #writer: Writer;
  /** The buffer's context, from `open`: it hears which appends opened or filled a batch. */
  #context: BackendContext | undefined;
  /**
   * Keys recently written, encoded, and their partitions: `write` runs once per turn over every staged
   * insert, and encoding and hashing each insert's key again was a third of its work. Cleared when it
   * reaches {@link MEMBER_CACHE_SIZE} keys, so that it stays small with keys that are never reused.
   */
  readonly #members = new Map<K, { readonly member: string; readonly partition: number }>();
  /** With a journal in front and the default `serialize`: the items the journal encoded as JSON. */
  #encoded: EncodedItems | undefined;

  constructor(context: WriteSideContext<K, V>) {
    const { partitions, serialize, journal, ...writer } = context;
    this.#partitions = partitions;
    this.#namespace = context.namespace;
    this.#stats = context.stats;
    this.#serializeValue = serialize;
    this.#front = journal === undefined ? undefined : new JournalFront(journal);
    this.#writer = new Writer({
      ...writer,
      appended: (member, reply) => {
        this.#context?.appended?.(
          decodeMember(member),
          (reply & APPEND_OPENED) !== 0,
          (reply & APPEND_FULL) !== 0,
        );
      },
    });
  }

  /** Takes the buffer's batch limits and writes what the journal recovered, before anything new. */
  open(context: BackendContext): void {
    this.#context = context;
    this.#writer.configure(context.interval, context.maxSize);
    const front = this.#front;
    if (front === undefined) return;
    // What an earlier run journaled and Redis never confirmed goes first: before any new item of its key.
    for (const batch of front.open(context)) this.#writeRecovered(front, batch);
  }

  /** Writes a batch the journal handed back to Redis; it leaves the journal once Redis has it. */
  #writeRecovered(front: JournalFront<K, V>, batch: RecoveredBatch<K, V>): void {
    const count = batch.items.length;
    if (count === 0) return;
    const member = encodeKey(batch.key);
    const partition = partitionOf(member, this.#partitions);
    const texts = batch.items.map((item) => this.#serialize(item, batch.key));
    this.#stats.recoveredItems += count;
    this.#writer.add(new Array(count).fill(member), new Array(count).fill(partition), texts).then(
      () => front.recoveredInRedis(batch),
      // The writer failed for good: every later write fails too, and the buffer stops with it; the
      // items stay in the journal for the next start.
      () => {},
    );
  }

  /** `serialize`, checked: it must return a string. */
  #serialize(value: V, key: unknown): string {
    const text = this.#serializeValue(value);
    if (typeof text !== 'string') {
      throw new TypeError(
        `redisStore: \`serialize\` must return a string, got ${describe(text)} for an item of the key ${describe(key)}`,
      );
    }
    return text;
  }

  /** Checks a key (and, with a journal, the item) at insert time; see `RedisStore.admit`. */
  admit(key: K, value: V): void {
    encodeKey(key);
    this.#front?.admit(key, value);
  }

  /** Writes one turn's inserts (the store checked it is open); settles as the module comment says. */
  write(staged: Staged<K, V>): Promise<void> {
    const { length, keys, values } = staged;
    if (length === 0) return this.#writer.drained();
    const members: string[] = new Array(length);
    const partitions: number[] = new Array(length);
    const texts: Array<string | undefined> = new Array(length);
    const front = this.#front;
    let journaled: Promise<void> | undefined;
    let encoded: EncodedItems | undefined;
    if (front !== undefined && this.#serializeValue === JSON.stringify) {
      // The journal encodes values as JSON too (its default codec, for values that are neither strings
      // nor bytes), at insert: the same text, copied here instead of serializing the value again.
      encoded = this.#encoded ??= new EncodedItems();
      encoded.reset(length);
      const into = encoded;
      journaled = front.write(staged, (i, bytes, start, end) => {
        const from = jsonTextStart(bytes, start);
        if (from >= 0) into.set(i, bytes, from, end);
      });
    }
    // Everything is read now: the staging ring reuses its arrays once this returns.
    try {
      const cache = this.#members;
      for (let i = 0; i < length; i++) {
        const key = keys[i]!;
        let known = cache.get(key);
        if (known === undefined) {
          const member = encodeKey(key);
          known = { member, partition: partitionOf(member, this.#partitions) };
          if (cache.size >= MEMBER_CACHE_SIZE) cache.clear();
          cache.set(key, known);
        }
        members[i] = known.member;
        partitions[i] = known.partition;
        if (encoded === undefined || encoded.starts[i]! < 0) texts[i] = this.#serialize(values[i]!, key);
      }
    } catch (error) {
      // The journal's write already started: the buffer hears of the failure from this rejection.
      journaled?.catch(() => {});
      return Promise.reject(error);
    }
    if (front === undefined) return this.#writer.add(members, partitions, texts);
    const counts = front.count(staged);
    journaled ??= front.write(staged);
    const inRedis = this.#writer.add(members, partitions, texts, encoded).then(() => front.inRedis(counts));
    // Settles once Redis has the items (the buffer's budget counts them until then), and fails if
    // either side fails.
    return Promise.all([journaled, inRedis]).then(() => {});
  }

  /** Without a journal: once every write so far is in Redis. With one: once it is in the journal. */
  durable(): Promise<void> {
    return this.#front?.durable() ?? this.#writer.drained();
  }

  /** Resolves once every write so far is in Redis. */
  drained(): Promise<void> {
    return this.#writer.drained();
  }

  /** From now on, a pending retry keeps the process alive (the store is closing and waits for it). */
  keepAlive(): void {
    this.#writer.keepAlive();
  }

  /**
   * Stops the writer for good: pending writes reject with `ERR_REDIS_CLOSED`.
   * @returns the items Redis never confirmed.
   */
  abandon(): number {
    return this.#writer.abandon(
      new RedisStoreError(
        'ERR_REDIS_CLOSED',
        `redisStore(${this.#namespace}): closed before Redis confirmed ${this.#stats.pendingItems} item(s)`,
      ),
    );
  }

  /** Closes the journal, if any: what Redis confirmed has left it; what it did not stays for the next start. */
  async closeJournal(): Promise<void> {
    await this.#front?.close();
  }
}
