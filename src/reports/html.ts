/**
 * The report page: one self-contained HTML file (inline CSS, charts as inline SVG; no scripts,
 * no network), with the tables per dataset, the charts, the method-vs-control summary, notes on
 * what was left out and why, and the list of runs it was made from.
 */
import type { RunRecord } from '../experiments/run-record.js';
import { RUN_FILES } from '../train/run-dir.js';
import type { Chart } from './charts.js';
import { datasetTablesHtml, escapeHtml, formatComparison } from './table-format.js';
import { headlineHtml } from './headline.js';
import { precisionOf, type ReadResultEntry } from './results.js';
import type { Comparison, DatasetTable, Tables } from './tables.js';

export interface RenderedChart {
  chart: Chart;
  svg: string;
  /** The PNG's file name, relative to the page. */
  png: string;
}

export interface PageInput {
  title: string;
  tables: Tables;
  charts: RenderedChart[];
  /** Things left out and why (e.g. a saln run without selection examples). */
  notes: string[];
  runs: readonly RunRecord[];
  generatedAt: Date;
  /** The results entries (results.ts) for the headline tables; none: no headline. */
  results?: readonly ReadResultEntry[];
}

const CSS = `
body { font-family: 'DejaVu Sans', system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2.5rem; }
table { border-collapse: collapse; margin: 1rem 0 1.5rem; font-size: .85rem; }
caption { text-align: left; font-weight: bold; padding: .3rem 0; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: right; white-space: nowrap; }
thead th { background: #f4f4f4; } tbody th { text-align: left; }
figure.chart { margin: 1.5rem 0; padding: .5rem; border: 1px solid #eee; overflow-x: auto; }
figure.chart svg { display: block; max-width: none; }
figcaption { font-size: .85rem; color: #444; margin-bottom: .4rem; }
.note { background: #fff8e1; border-left: 4px solid #f0c000; padding: .4rem .8rem; }
code { font-size: .85em; }
`;

/** Prefixes every id in an SVG (and its url(#…) / href="#…" uses) so that several SVGs can share one page. */
export function scopeSvgIds(svg: string, prefix: string): string {
  const ids = new Set([...svg.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]!));
  if (ids.size === 0) return svg;
  return svg
    .replace(/\bid="([^"]+)"/g, (_, id: string) => `id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (m, id: string) => (ids.has(id) ? `url(#${prefix}-${id})` : m))
    .replace(/href="#([^"]+)"/g, (m, id: string) => (ids.has(id) ? `href="#${prefix}-${id}"` : m));
}

function figure(c: RenderedChart): string {
  const svg = scopeSvgIds(c.svg.replace(/^<\?xml[^>]*>\s*/, ''), `c-${c.chart.name}`);
  return `<figure class="chart" id="chart-${escapeHtml(c.chart.name)}" data-chart="${escapeHtml(c.chart.name)}">
<figcaption><strong>${escapeHtml(c.chart.title)}.</strong> ${escapeHtml(c.chart.caption)} <a href="${encodeURI(c.png)}">PNG</a></figcaption>
${svg}
</figure>`;
}

const HOW_TO_READ = `<section id="how-to-read"><h2>How to read this</h2>
<ul>
<li>Each row is one method (or the label an experiment gave it) on one dataset; numbers are the <em>mean ± the half-width of the 95% confidence interval of the mean</em> over seeds, with Student's t at n − 1 degrees of freedom. With few seeds the intervals are wide on purpose. <q>± n/a</q>: a single seed, so no interval; <q>—</q>: no such value (for example no validation split).</li>
<li>Accuracies are in percent; differences in accuracy are in percentage points. Train accuracy and loss are those of the last epoch, over the samples actually trained on (after selection).</li>
<li>Wall time covers the whole run, selection included; the cost table splits it by phase (data, scoring, selection, train, eval, checkpoint) and counts gradient samples (forward and backward with gradients), scored samples (extra forwards without gradients), reference-model samples and feature samples, so that no selection cost is hidden.</li>
<li>Time to target is the cumulative wall time of the epochs up to the first whose validation accuracy reaches the target, over the seeds that reached it (the count is shown).</li>
<li>A selector is only useful if it beats <code>random</code> at the same filter ratio: the comparison table gives each method minus <code>none</code> and minus <code>random</code>, paired by seed. An interval that contains 0 means the difference is not resolved by these seeds.</li>
</ul></section>`;

/** One sentence per method that has a random control: the difference and whether its CI excludes 0. */
function verdicts(d: DatasetTable): string {
  const lines = d.rows.filter((r) => r.vsRandom).map((r) => {
    const c = r.vsRandom as Comparison;
    const s = c.testAccuracy;
    let verdict: string;
    if (c.pairs === 0) verdict = 'no seeds in common, so no paired interval';
    else if (s.half === null) verdict = 'one paired seed, so no interval';
    else if (s.mean - s.half > 0) verdict = 'better than random (the interval excludes 0)';
    else if (s.mean + s.half < 0) verdict = 'worse than random (the interval excludes 0)';
    else verdict = 'not distinguishable from random with these seeds (the interval contains 0)';
    return `<li><strong>${escapeHtml(r.label)}</strong> − ${escapeHtml(c.against)} at filter ratio ${escapeHtml(r.filterRatios.join(', '))}: test accuracy ${escapeHtml(formatComparison(c, 'acc'))} pp, wall time ${escapeHtml(formatComparison(c, 'wall'))} s over ${c.pairs} paired seed(s): ${verdict}.</li>`;
  });
  if (lines.length === 0) return '<p class="note">No method here has a <code>random</code> run at its filter ratio, so no method can be compared with the random control.</p>';
  return `<p>Against the random control at the same filter ratio:</p><ul>${lines.join('')}</ul>`;
}

/** A run's device, precision and layout as resolved (results.json's precision label, with the device). */
function computeLabel(c: RunRecord['config']): string {
  return `${c.device ?? 'cpu'} ${precisionOf(c)}`;
}

function runList(runs: readonly RunRecord[]): string {
  const rows = [...runs].sort((a, b) => a.id - b.id).map((r) => `<tr><td>${r.id}</td><th scope="row">${escapeHtml(r.dataset)}</th><td>${escapeHtml(r.label)}</td><td>${escapeHtml(r.method)}</td><td>${r.seed}</td><td>${r.config.filterRatio}</td><td>${r.metrics.length}/${r.config.epochs}</td><td>${escapeHtml(computeLabel(r.config))}</td><td>${r.status}</td><td style="text-align:left"><code>${escapeHtml(r.runDir)}</code></td></tr>`);
  return `<section id="runs"><h2>Runs</h2><table><thead><tr><th>id</th><th>dataset</th><th>label</th><th>method</th><th>seed</th><th>filter ratio</th><th>epochs</th><th>precision</th><th>status</th><th>run directory</th></tr></thead><tbody>${rows.join('\n')}</tbody></table></section>`;
}

export function renderPage(p: PageInput): string {
  const parts: string[] = [];
  parts.push(`<h1>${escapeHtml(p.title)}</h1>`);
  parts.push(`<p>${p.runs.length} run(s), ${p.tables.datasets.length} dataset(s); generated ${escapeHtml(p.generatedAt.toISOString())} by <code>saln report</code>.</p>`);
  parts.push(HOW_TO_READ);
  for (const d of p.tables.datasets) {
    parts.push(`<section class="dataset" data-dataset="${escapeHtml(d.dataset)}"><h2>Dataset: ${escapeHtml(d.dataset)}</h2>`);
    parts.push(headlineHtml(d.dataset, p.results ?? []));
    parts.push(datasetTablesHtml(d));
    parts.push(`<h3>Method vs random</h3>${verdicts(d)}`);
    parts.push(...p.charts.filter((c) => c.chart.dataset === d.dataset).map(figure));
    parts.push('</section>');
  }
  const rest = p.charts.filter((c) => c.chart.dataset === null || !p.tables.datasets.some((d) => d.dataset === c.chart.dataset));
  if (rest.length) parts.push('<section><h2>Other charts</h2>', ...rest.map(figure), '</section>');
  if (p.notes.length || p.tables.incomplete.length) {
    parts.push('<section id="notes"><h2>Notes</h2><ul>');
    for (const n of p.notes) parts.push(`<li class="note">${escapeHtml(n)}</li>`);
    for (const r of p.tables.incomplete) parts.push(`<li class="note">Run #${r.id} (${escapeHtml(r.label)}, seed ${r.seed}, ${r.metrics.length}/${r.config.epochs} epochs) is incomplete (no ${RUN_FILES.summary}) and is left out of every table and chart: <code>${escapeHtml(r.runDir)}</code></li>`);
    parts.push('</ul></section>');
  }
  parts.push(runList(p.runs));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(p.title)}</title>
<style>${CSS}</style>
</head>
<body>
${parts.join('\n')}
</body>
</html>
`;
}
