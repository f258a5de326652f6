/**
 * Group commit: the records of one turn (a write's puts, and the takes, settles and drops told in
 * between) are encoded into one contiguous buffer as they come, and leave for the disk together. Runs
 * of control records of one type share a frame. The segment a frame lands in is decided here, when the
 * frame begins, so that every item's segment is known the moment it is put.
 * @module
 */
import { beginFrame, endFrame, RecordType } from './frame.js';
import { Output } from './output.js';
import type { Segment } from './segments.js';

/** Encoded bytes bound for one segment. */
export interface Part {
  readonly segment: Segment;
  readonly data: Buffer;
}

/** Collects a turn's frames; {@link drain} hands them to the writer. */
export class CommitBuilder {
  readonly #out = new Output();
  readonly #parts: Part[] = [];
  readonly #segmentBytes: number;
  readonly #rotate: () => Segment;
  #segment: Segment;
  #frameStart = -1;
  #frameType = 0;
  #frameSeq = 0;
  #frameCount = 0;
  /** Records appended since the start: the writer's tickets (a write is done once its ticket is). */
  appended = 0;

  /**
   * @param segment - where the first frames go.
   * @param segmentBytes - size at which a new segment is started.
   * @param rotate - starts the next segment (registered with the journal) and returns it.
   */
  constructor(segment: Segment, segmentBytes: number, rotate: () => Segment) {
    this.#segment = segment;
    this.#segmentBytes = segmentBytes;
    this.#rotate = rotate;
  }

  /** The segment that frames go to now. */
  get segment(): Segment {
    return this.#segment;
  }

  /** Bytes encoded and not yet drained. */
  get pendingBytes(): number {
    let bytes = this.#out.pos;
    for (const part of this.#parts) bytes += part.data.length;
    return bytes;
  }

  /**
   * The output to append one entry of `type` to: the open frame when it has that type (control
   * records), else a new frame (puts always get their own, `firstSeq` being their first item's).
   * Starts a new segment first when the current one is full.
   */
  begin(type: number, firstSeq: number): Output {
    if (this.#frameStart >= 0 && (type !== this.#frameType || type === RecordType.PUTS)) this.#endFrame();
    if (this.#frameStart < 0) {
      if (this.#segment.bytes + this.#out.pos >= this.#segmentBytes) {
        this.#seal();
        this.#segment = this.#rotate();
      }
      this.#frameStart = beginFrame(this.#out);
      this.#frameType = type;
      this.#frameSeq = firstSeq;
      this.#frameCount = 0;
    }
    return this.#out;
  }

  /** Counts `entries` appended to the open frame (one record: one ticket). */
  added(entries: number): void {
    this.#frameCount += entries;
    this.appended++;
    if (this.#frameType === RecordType.PUTS) this.#endFrame();
  }

  /** Gives up the open frame (its entries could not be encoded); the journal fails right after. */
  abandon(): void {
    if (this.#frameStart >= 0) this.#out.pos = this.#frameStart;
    this.#frameStart = -1;
  }

  /** Takes back a part's bytes once written (nothing reads them any more), to encode into again. */
  recycle(part: Part): void {
    this.#out.recycle(part.data);
  }

  /** The encoded bytes, by segment, oldest first; the builder starts empty again. */
  drain(): Part[] {
    if (this.#frameStart >= 0) this.#endFrame();
    this.#seal();
    return this.#parts.splice(0);
  }

  #endFrame(): void {
    endFrame(this.#out, this.#frameStart, this.#frameType, this.#frameSeq, this.#frameCount);
    this.#frameStart = -1;
  }

  #seal(): void {
    if (this.#out.pos === 0) return;
    const data = this.#out.take();
    this.#segment.bytes += data.length;
    this.#parts.push({ segment: this.#segment, data });
  }
}
