/**
 * Simulated traffic: page views at a steady rate for a set time, a few paths much busier than the
 * rest, as on a real site.
 */

/** One page view: what the web service inserts into the buffer. */
export interface PageView {
  /** Unique and increasing: the table's unique `event_id`. */
  readonly id: number;
  readonly path: string;
  readonly user: string;
  readonly at: Date;
}

/** Options of {@link produceTraffic}. */
export interface TrafficOptions {
  /** Page views per second, at most: a full buffer slows production down (backpressure). */
  readonly rate: number;
  /** How long to produce, in ms, whatever the number of views that fit in it. */
  readonly durationMs: number;
  /** Distinct paths. */
  readonly paths: number;
  /** Stops production early (Ctrl-C), also while it waits for room in the buffer. */
  readonly signal: AbortSignal;
  /**
   * Receives each view. Returns `false` when the consumer is full: production then waits for
   * `whenReady(signal)` before going on.
   */
  readonly emit: (view: PageView) => boolean;
  /** The first view's id (a run on a journal goes on from the ids of earlier runs); 0 by default. */
  readonly firstId?: number;
  /** Resolves once the consumer has room; rejects once `signal` aborts (production then ends). */
  readonly whenReady: (signal: AbortSignal) => Promise<void>;
}

/** What {@link produceTraffic} did. */
export interface TrafficResult {
  /** Views produced. */
  readonly produced: number;
  /** How long production ran, in ms: `durationMs`, or less after an abort. */
  readonly elapsedMs: number;
  /** Of that, the time spent waiting for room in the buffer, in ms. */
  readonly waitedMs: number;
}

const SECTIONS = ['', 'docs', 'blog', 'pricing', 'products', 'account', 'search', 'help'];
/** Pause between bursts when production is on schedule. */
const TICK_MS = 10;
/**
 * Longest run of synchronous inserts: then the event loop turns, so that the progress line and
 * Ctrl-C are served even at a rate the buffer cannot take.
 */
const SLICE_MS = 20;

/**
 * Produces views for `durationMs`, paced on the clock (each burst emits what is due since the start,
 * so a slow burst is caught up by the next one). Ends at the deadline or when `signal` aborts, even
 * in the middle of a wait for room.
 */
export async function produceTraffic(options: TrafficOptions): Promise<TrafficResult> {
  const { rate, durationMs, emit, whenReady } = options;
  const firstId = options.firstId ?? 0;
  const paths = Array.from({ length: options.paths }, (_, i) => pathName(i));
  const started = performance.now();
  const end = started + durationMs;
  // One signal for both ways to stop, so that a wait for room ends at the deadline too.
  const stop =
    durationMs > 0
      ? AbortSignal.any([options.signal, AbortSignal.timeout(Math.ceil(durationMs))])
      : AbortSignal.abort();
  let produced = 0;
  let waitedMs = 0;
  let behind = false;
  while (!stop.aborted && performance.now() < end) {
    if (!behind) await pause(TICK_MS);
    const sliceStart = performance.now();
    if (stop.aborted || sliceStart >= end) break;
    const due = Math.floor(((sliceStart - started) * rate) / 1000);
    while (produced < due) {
      // Skewed popularity: a cube of a uniform draw puts most views on the first paths.
      const path = paths[Math.floor(paths.length * Math.random() ** 3)] as string;
      const user = `user-${Math.floor(Math.random() * 50_000)}`;
      const accepted = emit({ id: firstId + produced, path, user, at: new Date() });
      produced++;
      if (!accepted) {
        const waitStart = performance.now();
        const ready = await whenReady(stop).then(
          () => true,
          () => false, // stopped while waiting
        );
        waitedMs += performance.now() - waitStart;
        if (!ready) break;
      }
      if ((produced & 1023) === 0 && performance.now() - sliceStart >= SLICE_MS) break;
    }
    behind = produced < due;
    // Behind schedule: go on at once, after one turn of the event loop.
    if (behind) await new Promise((resolve) => setImmediate(resolve));
  }
  return { produced, elapsedMs: Math.min(performance.now(), end) - started, waitedMs };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function pathName(i: number): string {
  if (i === 0) return '/';
  const section = SECTIONS[i % SECTIONS.length] as string;
  return section === '' ? `/page-${i}` : `/${section}/${i}`;
}
