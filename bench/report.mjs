/**
 * Turns the scenarios' rows into the printed table, `docs/benchmarks.md` and the SVG chart of the
 * headline ratios. A row is one figure of one arm, with its baseline and the ratio between them.
 * @module
 */
import { cpus } from 'node:os';

/**
 * @typedef {object} Row
 * @property {string} scenario e.g. `1. Insert, 10k keys`
 * @property {string} arm what was measured, with the options it ran with
 * @property {string} figure the arm's figure, formatted
 * @property {string} baseline the baseline's name and figure, formatted
 * @property {number | undefined} ratio arm against baseline (see `ratioLabel`)
 * @property {string} ratioLabel what the ratio means, e.g. `x rate`
 * @property {string} target the figure the issue asks for, if any
 * @property {boolean | undefined} pass whether the target is met
 * @property {{ label: string, target?: number, lowerIsBetter?: boolean } | undefined} chart set on the
 *   headline rows, drawn in the SVG
 */

/**
 * Builds a row, checking the ratio against a target when one is given.
 * @param {Omit<Row, 'pass' | 'target' | 'ratioLabel'> & { ratioLabel?: string, min?: number, max?: number, aim?: number }} fields
 * @returns {Row}
 */
export function row({ min, max, aim, ratioLabel = 'x rate', ...fields }) {
  let target = '';
  let pass;
  if (min !== undefined) {
    target = `>= ${min}${aim === undefined ? '' : ` (aim ${aim})`}`;
    pass = fields.ratio >= min;
  } else if (max !== undefined) {
    target = `<= ${max}${aim === undefined ? '' : ` (aim ${aim})`}`;
    pass = fields.ratio <= max;
  }
  return { ratioLabel, target, pass, chart: undefined, ...fields };
}

/** `12345678` → `12.3 M`; keeps three significant digits. */
export function compact(value) {
  if (value >= 1e9) return `${(value / 1e9).toPrecision(3)} G`;
  if (value >= 1e6) return `${(value / 1e6).toPrecision(3)} M`;
  if (value >= 1e3) return `${(value / 1e3).toPrecision(3)} k`;
  return value.toPrecision(3);
}

/** `2000000` → `2M`, `20000` → `20k`: for counts in labels. */
export function compactCount(count) {
  if (count >= 1e6 && count % 1e6 === 0) return `${count / 1e6}M`;
  if (count >= 1e3 && count % 1e3 === 0) return `${count / 1e3}k`;
  return String(count);
}

/** Items per second from a count and a time in ms, formatted: `5.21 M inserts/s`. */
export function rate(count, ms, unit) {
  return `${compact((count * 1000) / ms)} ${unit}/s`;
}

/** A time in ms, formatted with a sensible precision. */
export function millis(ms) {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toPrecision(3)} ms`;
}

function ratioText(r) {
  if (r.ratio === undefined) return '';
  return `${r.ratio.toFixed(2)} ${r.ratioLabel}`;
}

function verdict(r) {
  if (r.pass === undefined) return r.target;
  return `${r.target} ${r.pass ? 'ok' : 'MISSED'}`;
}

const COLUMNS = ['Scenario', 'Arm', 'Figure', 'Baseline', 'Ratio', 'Target'];

function cells(r) {
  return [r.scenario, r.arm, r.figure, r.baseline, ratioText(r), verdict(r)];
}

/** The rows as a fixed-width text table, for the terminal. */
export function textTable(rows) {
  const table = [COLUMNS, ...rows.map(cells)];
  const widths = COLUMNS.map((_, c) => Math.max(...table.map((line) => line[c].length)));
  const format = (line) =>
    line
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd();
  return [format(table[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...table.slice(1).map(format)].join(
    '\n',
  );
}

/** The rows as a Markdown table. */
export function markdownTable(rows) {
  const escapeCell = (cell) => cell.replaceAll('|', '\\|');
  return [
    `| ${COLUMNS.join(' | ')} |`,
    `| ${COLUMNS.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${cells(r).map(escapeCell).join(' | ')} |`),
  ].join('\n');
}

/** Where and when the figures were taken. */
export function machine() {
  const cpu = cpus();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    node: process.version,
    cpu: `${cpu[0]?.model.trim() ?? 'unknown CPU'} (${cpu.length} cores)`,
    platform: `${process.platform} ${process.arch}`,
  };
}

const escapeXml = (text) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/**
 * A bar chart of the headline ratios, hand-written SVG. The axis is logarithmic (0.1× to 100×) with the
 * baseline, 1.0, in the middle: each bar runs from 1.0 to its ratio, green when its target is met and
 * red when not; a black tick marks the target.
 */
export function svgChart(rows, info) {
  const bars = rows.filter((r) => r.chart !== undefined && r.ratio !== undefined);
  const labelWidth = 360;
  const plotWidth = 480;
  const barHeight = 20;
  const gap = 8;
  const top = 62;
  const width = labelWidth + plotWidth + 40;
  const bottom = top + bars.length * (barHeight + gap);
  const height = bottom + 50;
  const [low, high] = [0.1, 100];
  const x = (value) => {
    const clamped = Math.min(high, Math.max(low, value));
    return (
      labelWidth +
      ((Math.log10(clamped) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))) * plotWidth
    );
  };
  const one = x(1);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12" role="img" aria-labelledby="chart-title">`,
    '<title id="chart-title">data-buffer benchmarks: headline ratios against their baselines</title>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="15" font-weight="600" fill="#111">data-buffer: headline ratios against their baselines</text>`,
    `<text x="16" y="42" fill="#555">${escapeXml(`${info.date} · Node ${info.node} · ${info.cpu}`)}</text>`,
  ];
  for (const tick of [0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100]) {
    const tx = x(tick).toFixed(1);
    parts.push(
      `<line x1="${tx}" x2="${tx}" y1="${top - 8}" y2="${bottom}" stroke="${tick === 1 ? '#555' : '#e3e3e3'}"${tick === 1 ? ' stroke-dasharray="4 3"' : ''}/>`,
      `<text x="${tx}" y="${bottom + 14}" text-anchor="middle" fill="#666">${tick}×</text>`,
    );
  }
  bars.forEach((r, i) => {
    const y = top + i * (barHeight + gap);
    const end = x(r.ratio);
    const [from, to] = end < one ? [end, one] : [one, end];
    const color = r.pass === false ? '#c0392b' : '#2f7d4f';
    const label = `${r.ratio >= 10 ? r.ratio.toFixed(0) : r.ratio.toFixed(2)}×`;
    const labelX = end < one ? from - 4 : to + 4;
    parts.push(
      `<text x="${labelWidth - 10}" y="${y + barHeight / 2 + 4}" text-anchor="end" fill="#222">${escapeXml(r.chart.label)}</text>`,
      `<rect x="${from.toFixed(1)}" y="${y}" width="${Math.max(1, to - from).toFixed(1)}" height="${barHeight}" rx="2" fill="${color}"><title>${escapeXml(`${r.arm}: ${r.figure} vs ${r.baseline}`)}</title></rect>`,
      `<text x="${labelX.toFixed(1)}" y="${y + barHeight / 2 + 4}" text-anchor="${end < one ? 'end' : 'start'}" fill="#222">${label}</text>`,
    );
    if (r.chart.target !== undefined) {
      const tx = x(r.chart.target).toFixed(1);
      parts.push(
        `<line x1="${tx}" x2="${tx}" y1="${y - 3}" y2="${y + barHeight + 3}" stroke="#111" stroke-width="2"><title>target ${r.chart.target}</title></line>`,
      );
    }
  });
  parts.push(
    `<text x="16" y="${bottom + 36}" fill="#555">Rates and "faster": higher is better. Heap: lower is better. Black tick: the target. Details: docs/benchmarks.md</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
