/**
 * The report's headline: the protocol's results entries (results.ts, the numbers results.json and
 * BENCHMARKS.md quote) as one table: accuracy, cost, time to 95% / 99% of standard training's
 * accuracy, and the paired differences from standard training and from random.
 */
import type { PairedEntries, ReadResultEntry } from './results.js';
import { escapeHtml } from './table-format.js';

type Stat = { mean: number | null; ci95: number | null };

/** "84.10 ± 0.60", "84.10 ± n/a" (one seed), or "—" (none, or a field older files lack). */
function pm(s: Stat | null | undefined, digits = 2): string {
  if (!s || s.mean === null) return '—';
  return `${s.mean.toFixed(digits)} ± ${s.ci95 === null ? 'n/a' : s.ci95.toFixed(digits)}`;
}

/** A time to target: its mean over the seeds that reached it, and how many did. */
function reached(s: ReadResultEntry['time_to_95pct']): string {
  if (!s) return '—';
  return `${pm(s, 0)} (${s.reached}/${s.of})`;
}

/** The headline's columns, in order (the HTML report, `saln results` and BENCHMARKS.md share them). */
export const HEADLINE_COLUMNS = ['entry', 'budget', 'precision', 'test acc %', 'val acc %', 'wall s (all costs)', 'selection cost %', 'time to 95% s (seeds)', 'time to 99% s (seeds)', 'Δ vs none, pp', 'Δ vs random, pp', 'Δ vs random at equal gradient samples, val pp', 'seeds'] as const;

/** One entry's cells, formatted, one per HEADLINE_COLUMNS. */
export function headlineCells(e: ReadResultEntry): string[] {
  return [
    e.label, e.budget === 'wall' ? 'equal wall time' : 'epochs', e.precision, pm(e.test_accuracy), pm(e.val_accuracy), pm(e.wall_seconds, 0), pm(e.selection_cost_share, 1),
    reached(e.time_to_95pct), reached(e.time_to_99pct), pm(e.delta_vs_none), pm(e.delta_vs_random), equalSamples(e.delta_vs_random_equal_samples), `${e.seeds.length}${e.contended_runs ? ` (${e.contended_runs} contended)` : ''}`,
  ];
}

/** "+1.20 ± 0.40 (against random-0.5 at 100,000)": the control and the gradient samples both were cut at. */
function equalSamples(d: ReadResultEntry['delta_vs_random_equal_samples']): string {
  // No pair validated within the budget (a run's only validation came after it): nothing to compare.
  return d && d.mean !== null ? `${pm(d)} (against ${d.against} at ${d.gradient_samples.toLocaleString('en-US')})` : '—';
}

function row(e: ReadResultEntry): string {
  const cells = headlineCells(e);
  return `<tr data-label="${escapeHtml(e.label)}">${cells.map((c, i) => (i === 0 ? `<th scope="row">${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`;
}

/** A Markdown table (the first `textColumns` left-aligned, numbers right-aligned), as BENCHMARKS.md quotes them. */
export function markdownTable(columns: readonly string[], rows: readonly (readonly string[])[], textColumns: number): string {
  const cell = (c: string): string => c.replace(/\|/g, '\\|');
  const line = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |\n`;
  return line(columns) + line(columns.map((_, i) => (i < textColumns ? '---' : '---:'))) + rows.map(line).join('');
}

/** The columns of `saln results --verdict`: each entry against its random control (issue 18's rule). */
export const verdictColumns = (margin: number): string[] => ['entry', 'against', 'seeds paired', 'Δ vs random, pp', '95% CI, pp', 'Δ vs none, pp', 'selection cost %', `beats random by > ${margin} pp?`];

/**
 * One entry's verdict cells (one per verdictColumns), or null for an entry with no random control
 * (none, random itself). It wins only when the whole 95% CI of its paired Δ lies above the margin.
 */
export function verdictCells(e: ReadResultEntry, margin: number): string[] | null {
  const d = e.delta_vs_random;
  if (!d || d.mean === null) return null;
  const ci = d.ci95 === null ? 'n/a' : `[${(d.mean - d.ci95).toFixed(2)}, ${(d.mean + d.ci95).toFixed(2)}]`;
  return [e.label, d.against, String(d.pairs), pm(d), ci, pm(e.delta_vs_none), pm(e.selection_cost_share, 1), verdict({ mean: d.mean, ci95: d.ci95, pairs: d.pairs }, margin)];
}

function verdict(d: { mean: number; ci95: number | null; pairs: number }, margin: number): string {
  if (d.ci95 === null) return `not yet: ${d.pairs} seed${d.pairs === 1 ? '' : 's'} paired`;
  const [lo, hi] = [d.mean - d.ci95, d.mean + d.ci95];
  if (lo > margin) return 'yes';
  if (hi < 0) return 'no: below random';
  if (lo > 0) return `no: above random, not by ${margin} pp`;
  return 'no: not distinguishable from random';
}

/** The columns of `saln results --pair A,B`: A against B over the seeds both ran. */
export const PAIR_COLUMNS = ['A', 'B', 'seeds paired', 'Δ test acc A − B, pp', 'Δ val acc A − B, pp', 'A wall s', 'B wall s'] as const;

/** One pair's cells, formatted, one per PAIR_COLUMNS. */
export function pairCells(p: PairedEntries): string[] {
  const secs = (v: number | null): string => (v === null ? '—' : v.toFixed(0));
  return [p.a, p.b, p.seeds.length ? p.seeds.join(', ') : 'none', pm(p.test_accuracy), pm(p.val_accuracy), secs(p.wall_seconds.a), secs(p.wall_seconds.b)];
}

/** The headline section for one dataset's entries (empty string when there are none). */
export function headlineHtml(dataset: string, entries: readonly ReadResultEntry[]): string {
  const mine = entries.filter((e) => e.dataset === dataset);
  if (mine.length === 0) return '';
  const head = HEADLINE_COLUMNS;
  return `<h3>Headline</h3>
<p class="note">Times count every cost: the run's own wall clock (scoring and selection included) plus its reference's training and its features' extraction; "selection cost" is the share of that spent choosing samples (scoring, selection, reference training, feature extraction). Time to X%: until the validation accuracy first reaches X% of standard training's mean final test accuracy, over the seeds that reached it. Differences are paired by seed (95% CI); at equal gradient samples, each side's best validation accuracy within the smaller of the two entries' mean gradient samples (the fair control of a method that trains on more or fewer samples than its ratio's random, such as InfoBatch); "contended": runs whose cores other work shared (more than a quarter of them, on average), so their times are not comparable. The same numbers are in results.json.</p>
<table class="headline"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${mine.map(row).join('\n')}</tbody></table>`;
}
