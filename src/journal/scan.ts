/**
 * Reading segments back at open: every frame's length and crc are verified in order. A torn tail of
 * the newest segment (a write cut short by `kill -9` or a power loss) is cut off; bad bytes anywhere
 * else are moved aside into `quarantine/`, counted and reported. Corrupt data never throws.
 * @module
 */
import path from 'node:path';
import { FRAME_HEADER, type Frame, LAST_RECORD_TYPE, readFrame, SEGMENT_MAGIC } from './frame.js';
import type { JournalFs } from './fs.js';
import { QUARANTINE_DIR, segmentIds, segmentName } from './segments.js';

/** One segment read back, with its intact frames. */
export interface ScannedSegment {
  readonly id: number;
  readonly buffer: Buffer;
  readonly frames: Frame[];
}

/** What the scan discarded. */
export interface ScanReport {
  /** Bytes cut off the newest segment's torn tail. */
  truncatedBytes: number;
  /** Bytes moved into `quarantine/`. */
  quarantinedBytes: number;
  /** Stretches of bad bytes moved aside. */
  quarantined: number;
  /** Files written into `quarantine/`. */
  readonly quarantineFiles: string[];
}

/**
 * Reads every segment in `dir`, oldest first, repairing as it goes (see the module comment). Files
 * the journal does not know are left alone.
 */
export function scanSegments(fs: JournalFs, dir: string): { segments: ScannedSegment[]; report: ScanReport } {
  const report: ScanReport = { truncatedBytes: 0, quarantinedBytes: 0, quarantined: 0, quarantineFiles: [] };
  const names = fs.readdirSync(dir);
  for (const name of names) if (name.endsWith('.seg.tmp')) fs.unlinkSync(path.join(dir, name));
  const ids = segmentIds(names);
  const segments: ScannedSegment[] = [];
  ids.forEach((id, index) => {
    const scanned = scanSegment(fs, dir, id, index === ids.length - 1, report);
    if (scanned !== undefined) segments.push(scanned);
  });
  return { segments, report };
}

function scanSegment(
  fs: JournalFs,
  dir: string,
  id: number,
  newest: boolean,
  report: ScanReport,
): ScannedSegment | undefined {
  const file = path.join(dir, segmentName(id));
  const buffer = fs.readFileSync(file);
  const magic = SEGMENT_MAGIC.length;
  if (buffer.length < magic || !buffer.subarray(0, magic).equals(SEGMENT_MAGIC)) {
    if (newest && SEGMENT_MAGIC.subarray(0, buffer.length).equals(buffer.subarray(0, magic))) {
      // Created, and cut off before (or while) its first write: nothing in it was ever acknowledged.
      fs.unlinkSync(file);
      report.truncatedBytes += buffer.length;
    } else {
      quarantine(fs, dir, id, 0, buffer, report);
      fs.unlinkSync(file);
    }
    return undefined;
  }
  const frames: Frame[] = [];
  const bad: Array<[number, number]> = [];
  let offset = magic;
  while (offset < buffer.length) {
    const frame = readFrame(buffer, offset);
    if (frame !== undefined) {
      frames.push(frame);
      offset = frame.end;
      continue;
    }
    const next = resync(buffer, offset + 1);
    if (next === undefined && newest) {
      // The torn tail of the last write: it was never acknowledged.
      fs.truncateSync(file, offset);
      report.truncatedBytes += buffer.length - offset;
      break;
    }
    const end = next ?? buffer.length;
    bad.push([offset, end]);
    offset = end;
  }
  if (bad.length > 0) {
    for (const [start, end] of bad) quarantine(fs, dir, id, start, buffer.subarray(start, end), report);
    // Rewrite the segment without the bad stretches, so that the next open does not meet them again.
    const kept = [SEGMENT_MAGIC, ...frames.map((frame) => buffer.subarray(frame.start, frame.end))];
    const temporary = `${file}.tmp`;
    fs.writeFileSync(temporary, Buffer.concat(kept));
    fs.renameSync(temporary, file);
    const rewritten = Buffer.concat(kept);
    const moved: Frame[] = [];
    let position = magic;
    for (const frame of frames) {
      const length = frame.end - frame.start;
      moved.push({ ...frame, start: position, payload: position + FRAME_HEADER, end: position + length });
      position += length;
    }
    return { id, buffer: rewritten, frames: moved };
  }
  return { id, buffer, frames };
}

/** The next offset from `from` where an intact frame starts, if any. */
function resync(buffer: Buffer, from: number): number | undefined {
  for (let offset = from; offset + FRAME_HEADER <= buffer.length; offset++) {
    const type = buffer[offset + 8]!;
    if (type < 1 || type > LAST_RECORD_TYPE) continue;
    if (readFrame(buffer, offset) !== undefined) return offset;
  }
  return undefined;
}

function quarantine(
  fs: JournalFs,
  dir: string,
  id: number,
  offset: number,
  bytes: Buffer,
  report: ScanReport,
): void {
  const folder = path.join(dir, QUARANTINE_DIR);
  fs.mkdirSync(folder);
  // The time keeps files of later opens apart: segment ids start again once a directory emptied.
  const file = path.join(folder, `${segmentName(id)}.${offset}.${Date.now()}.bad`);
  fs.writeFileSync(file, bytes);
  report.quarantinedBytes += bytes.length;
  report.quarantined++;
  report.quarantineFiles.push(file);
}
