/**
 * The tables of tables.ts as text (terminals, `formatSummaryTable`) and as HTML (the report).
 * Accuracies are shown in percent, differences in percentage points; "± n/a" marks a value from
 * one seed (no confidence interval), "—" a value that does not exist.
 */
import type { RunRecord } from '../experiments/run-record.js';
import { PHASES } from '../train/records.js';
import type { Stat } from './stats.js';
import { buildTables, type AtBudget, type Comparison, type DatasetTable, type Row, type Tables } from './tables.js';

export type Unit = 'pct' | 'loss' | 'sec' | 'count';

function num(v: number, unit: Unit, signed = false): string {
  const sign = signed && v > 0 ? '+' : '';
  switch (unit) {
    case 'pct': return `${sign}${(v * 100).toFixed(1)}`;
    case 'loss': return `${sign}${v.toFixed(3)}`;
    case 'sec': return `${sign}${Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)}`;
    case 'count': return `${sign}${Math.round(v).toLocaleString('en-US')}`;
  }
}

/** "mean ± half" in the unit; "± n/a" without a CI; "—" when there is no value. */
export function formatStat(s: Stat | null | undefined, unit: Unit, o: { signed?: boolean } = {}): string {
  if (!s || !Number.isFinite(s.mean)) return '—';
  const m = num(s.mean, unit, o.signed);
  if (s.half === null) return s.n === 1 ? `${m} ± n/a` : m;
  // Counts that do not vary over seeds (the usual case) need no interval.
  if (unit === 'count' && s.half === 0) return m;
  return `${m} ± ${num(s.half, unit)}`;
}

export function formatTimeToTarget(r: Row): string {
  const t = r.timeToTarget;
  if (!t) return '—';
  if (t.reached === 0) return `not reached (0/${t.of})`;
  return `${formatStat(t.seconds, 'sec')} (${t.reached}/${t.of})`;
}

export function formatComparison(c: Comparison | null, what: 'acc' | 'wall'): string {
  if (!c) return '—';
  const s = what === 'acc' ? formatStat(c.testAccuracy, 'pct', { signed: true }) : formatStat(c.wallSeconds, 'sec', { signed: true });
  return c.pairs === 0 ? `${s} (unpaired)` : s;
}

export const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Left-aligned first column, right-aligned others, columns two spaces apart. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const targetText = (t: DatasetTable): string => (t.target === null ? 'no validation metrics' : `${(t.target * 100).toFixed(1)}% val acc${t.targetSource === 'auto' ? ' (auto)' : ''}`);

/** The terminal summary: per dataset, test accuracy, time, costs and the differences to none and random. */
export function formatTables(t: Tables): string {
  const out: string[] = [];
  for (const d of t.datasets) {
    out.push(`dataset ${d.dataset} (time to target: ${targetText(d)}; mean ± 95% CI over seeds)`);
    out.push(textTable(
      ['label', 'ratio', 'n', 'test acc %', 'val acc %', 'wall s', 'to target s', 'grad samples', 'steps', 'Δacc vs none', 'Δacc vs random', 'Δs vs random'],
      d.rows.map((r) => [r.label, r.filterRatios.join('/'), String(r.n), formatStat(r.testAccuracy, 'pct'), formatStat(r.valAccuracy, 'pct'), formatStat(r.wallSeconds, 'sec'),
        formatTimeToTarget(r), formatStat(r.gradientSamples, 'count'), formatStat(r.optimizerSteps, 'count'),
        formatComparison(r.vsNone, 'acc'), formatComparison(r.vsRandom, 'acc'), formatComparison(r.vsRandom, 'wall')]),
    ));
    out.push('');
  }
  if (t.datasets.length === 0) out.push('no complete runs');
  if (t.incomplete.length) out.push(`incomplete runs (left out): ${t.incomplete.map((r) => `#${r.id} ${r.runDir}`).join(', ')}`);
  return `${out.join('\n').trimEnd()}\n`;
}

/** The plain-text summary table of a set of runs (what `npm start` and `saln report` print). */
export function formatSummaryTable(runs: readonly RunRecord[], o: { targetAccuracy?: number } = {}): string {
  return formatTables(buildTables(runs, o));
}

function htmlTable(caption: string, header: string[], rows: string[][]): string {
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`).join('\n');
  return `<table>\n<caption>${escapeHtml(caption)}</caption>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

/** The paper's table, the cost table and the comparison table of one dataset. */
export function datasetTablesHtml(d: DatasetTable): string {
  const ttt = d.target === null ? 'time to target (no validation metrics)' : `time to ${(d.target * 100).toFixed(1)}% val acc, s${d.targetSource === 'auto' ? ' (auto target)' : ''}`;
  const main = htmlTable(`${d.dataset}: accuracy, loss and time (mean ± 95% CI over seeds)`,
    ['method', 'filter ratio', 'seeds', 'train acc %', 'train loss', 'val acc %', 'val loss', 'test acc %', 'wall time, s', ttt],
    d.rows.map((r) => [r.label, r.filterRatios.join(', '), String(r.n), formatStat(r.trainAccuracy, 'pct'), formatStat(r.trainLoss, 'loss'), formatStat(r.valAccuracy, 'pct'),
      formatStat(r.valLoss, 'loss'), formatStat(r.testAccuracy, 'pct'), formatStat(r.wallSeconds, 'sec'), formatTimeToTarget(r)]));
  const costs = htmlTable(`${d.dataset}: costs (samples are counts over the whole run; seconds per phase)`,
    ['method', 'gradient samples', 'scored samples', 'reference samples', 'feature samples', 'optimizer steps', ...PHASES.map((p) => `${p}, s`)],
    d.rows.map((r) => [r.label, formatStat(r.gradientSamples, 'count'), formatStat(r.scoredSamples, 'count'), formatStat(r.referenceSamples, 'count'),
      formatStat(r.featureSamples, 'count'), formatStat(r.optimizerSteps, 'count'), ...PHASES.map((p) => formatStat(r.phases[p], 'sec'))]));
  const cmp = htmlTable(`${d.dataset}: differences to the controls (this method − control, paired by seed; accuracy in percentage points)`,
    ['method', 'Δ test acc vs none', 'Δ wall s vs none', 'wall ratio vs none', 'Δ test acc vs random (same ratio)', 'Δ wall s vs random', 'wall ratio vs random'],
    d.rows.map((r) => [r.label, formatComparison(r.vsNone, 'acc'), formatComparison(r.vsNone, 'wall'), r.vsNone ? r.vsNone.wallRatio.toFixed(2) : '—',
      formatComparison(r.vsRandom, 'acc'), formatComparison(r.vsRandom, 'wall'), r.vsRandom ? r.vsRandom.wallRatio.toFixed(2) : '—']));
  const atBudget = (a: AtBudget | null): string => (a === null || a.reached === 0 ? 'no validation within it' : `${formatStat(a.accuracy, 'pct')}${a.reached < a.of ? ` (${a.reached}/${a.of} seeds)` : ''}`);
  const budget = d.budget === null ? '' : `\n${htmlTable(`${d.dataset}: equal budgets — best validation accuracy (%) among validations (epoch ends, and --eval-every points) within the cheapest method's mean wall time (${d.budget.seconds.toFixed(1)} s) and mean gradient samples (${Math.round(d.budget.gradientSamples).toLocaleString('en-US')})`,
    ['method', `val acc within ${d.budget.seconds.toFixed(1)} s`, `val acc within ${Math.round(d.budget.gradientSamples).toLocaleString('en-US')} gradient samples`],
    d.rows.map((r) => [r.label, atBudget(r.atSeconds), atBudget(r.atSamples)]))}`;
  return `${main}\n${costs}\n${cmp}${budget}`;
}
