/**
 * writeReport: runs → a folder with index.html (self-contained) and NAME.png for every chart.
 * Files are written atomically, so a reader never sees half a report file.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunRecord } from '../experiments/run-record.js';
import { writeFileAtomic } from '../io/atomic.js';
import { RUN_FILES, RunDir } from '../train/run-dir.js';
import { curveCharts, selectionChart, slug, weightsChart, type Chart } from './charts.js';
import { renderPage, type RenderedChart } from './html.js';
import { specToSvg, svgToPng } from './render.js';
import { readSelectionExamples, type SelectionExamples } from './selection.js';
import { buildResults, type ReadResultEntry } from './results.js';
import { buildTables, type Row, type Tables } from './tables.js';
import { readFcWeights } from './weights.js';

export interface ReportOptions {
  runs: RunRecord[];
  outDir: string;
  title?: string;
  /** Validation accuracy (a fraction) for time-to-target; default per dataset, see tables.ts. */
  targetAccuracy?: number;
  /**
   * The headline's entries: an experiment's results file (results.ts), whose numbers may count
   * more than the runs at hand (lost runs) or scale their times (machines). Default: built from runs.
   */
  results?: readonly ReadResultEntry[];
  /** What the caller knows about those numbers, shown with the page's notes. */
  notes?: readonly string[];
  log?: (s: string) => void;
}

export interface ReportResult {
  indexPath: string;
  charts: { name: string; png: string }[];
  tables: Tables;
  /** What was left out and why (also on the page). */
  notes: string[];
}

/** The selection PCA of the row's first run (lowest seed) that recorded batches; a note when a saln row has none. */
function selectionFor(dataset: string, row: Row, notes: string[]): Chart | null {
  for (const r of row.runs) {
    const sel: SelectionExamples | null = readSelectionExamples(r.runDir);
    if (!sel || sel.batches.length === 0) continue;
    const about = `feature source ${sel.metadata.feature_source ?? r.config.featureSource ?? 'unknown'}`;
    const title = `${dataset}, ${row.label} (seed ${r.seed}): kept vs dropped samples, first ${sel.batches.length} of ${sel.total} recorded batches`;
    return selectionChart(`selection-pca-${slug(dataset)}-${slug(row.label)}`, dataset, title, sel.batches, about);
  }
  if (row.methods.includes('saln')) notes.push(`${dataset}, ${row.label}: no run has ${RUN_FILES.examples} with recorded batches, so its selection PCA chart is omitted.`);
  return null;
}

/** The fc weights of the row's first run (lowest seed) with a checkpoint. */
function weightsFor(dataset: string, row: Row, notes: string[]): Chart | null {
  const r = row.runs.find((x) => RunDir.at(x.runDir).has('checkpoint'));
  const w = r ? readFcWeights(r.runDir) : null;
  if (!r || !w) {
    notes.push(`${dataset}, ${row.label}: no run has ${RUN_FILES.checkpoint}, so its weight chart is omitted.`);
    return null;
  }
  return weightsChart(`fc-weights-${slug(dataset)}-${slug(row.label)}`, dataset, `${dataset}, ${row.label} (seed ${r.seed}): final-layer weights`, w);
}

/** Writes the report; see the file comment. Throws on an empty run list. */
export async function writeReport(o: ReportOptions): Promise<ReportResult> {
  if (o.runs.length === 0) throw new Error('writeReport: no runs to report');
  const log = o.log ?? (() => {});
  const outDir = resolve(o.outDir);
  mkdirSync(outDir, { recursive: true });
  const tables = buildTables(o.runs, { targetAccuracy: o.targetAccuracy });
  if (tables.datasets.length === 0) log(`no complete runs among ${o.runs.length}: the report has no tables or charts`);
  const notes: string[] = [...(o.notes ?? [])];
  const planned: Chart[] = [...curveCharts(tables.datasets)];
  for (const d of tables.datasets) {
    for (const row of d.rows) {
      const s = selectionFor(d.dataset, row, notes);
      if (s) planned.push(s);
    }
    for (const row of d.rows) {
      const w = weightsFor(d.dataset, row, notes);
      if (w) planned.push(w);
    }
  }
  const seen = new Set<string>();
  const rendered: RenderedChart[] = [];
  for (const chart of planned) {
    // Two labels can slug to the same name: keep file names unique.
    let name = chart.name;
    for (let i = 2; seen.has(name); i++) name = `${chart.name}-${i}`;
    seen.add(name);
    const svg = await specToSvg(chart.spec);
    const png = `${name}.png`;
    writeFileAtomic(join(outDir, png), [svgToPng(svg)]);
    log(`wrote ${png}`);
    rendered.push({ chart: { ...chart, name }, svg, png });
  }
  const results = o.results ?? buildResults(o.title ?? 'report', o.runs, o.runs.length).entries;
  const html = renderPage({ title: o.title ?? 'saln report', tables, charts: rendered, notes, runs: o.runs, generatedAt: new Date(), results });
  const indexPath = join(outDir, 'index.html');
  writeFileAtomic(indexPath, [new TextEncoder().encode(html)]);
  return { indexPath, charts: rendered.map((r) => ({ name: r.chart.name, png: join(outDir, r.png) })), tables, notes };
}
