/**
 * Simulated traffic: page views at a steady rate, a few paths much busier than the rest, as on a
 * real site.
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
  /** Page views per second. */
  readonly rate: number;
  /** How long to produce, in ms. */
  readonly durationMs: number;
  /** Distinct paths. */
  readonly paths: number;
  /** Stops production early (Ctrl-C). */
  readonly signal: AbortSignal;
  /**
   * Receives each view. Returns `false` when the consumer is full: production then waits for
   * `whenReady()` before going on (backpressure).
   */
  readonly emit: (view: PageView) => boolean;
  readonly whenReady: () => Promise<void>;
}

const SECTIONS = ['', 'docs', 'blog', 'pricing', 'products', 'account', 'search', 'help'];
const TICK_MS = 10;

/**
 * Produces `rate × duration` views, paced on the clock: each tick emits what is due since the start,
 * so a slow tick is caught up by the next one. Resolves with the number of views produced.
 */
export async function produceTraffic(options: TrafficOptions): Promise<number> {
  const { rate, durationMs, signal, emit, whenReady } = options;
  const paths = Array.from({ length: options.paths }, (_, i) => pathName(i));
  const total = Math.floor((rate * durationMs) / 1000);
  const started = performance.now();
  let produced = 0;
  while (produced < total && !signal.aborted) {
    const elapsed = performance.now() - started;
    const due = Math.min(total, Math.floor((elapsed * rate) / 1000));
    while (produced < due) {
      // Skewed popularity: a cube of a uniform draw puts most views on the first paths.
      const path = paths[Math.floor(paths.length * Math.random() ** 3)] as string;
      const user = `user-${Math.floor(Math.random() * 50_000)}`;
      const accepted = emit({ id: produced, path, user, at: new Date() });
      produced++;
      if (!accepted) await whenReady();
    }
    if (produced < total) await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  return produced;
}

function pathName(i: number): string {
  if (i === 0) return '/';
  const section = SECTIONS[i % SECTIONS.length] as string;
  return section === '' ? `/page-${i}` : `/${section}/${i}`;
}
