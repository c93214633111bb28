/**
 * The report's charts as Vega-Lite specs (rendered by render.ts): learning curves per dataset
 * (loss and accuracy, train and validation, against epoch and against cumulative wall time),
 * validation accuracy against cumulative gradient samples, the selection PCA of a saln run's
 * recorded batches, and the fc weight heatmap and histogram. One line per label: the mean over
 * seeds at each epoch (and of the x value: wall time and samples differ between seeds).
 */
import type { TopLevelSpec } from 'vega-lite';
import { epochSeries, validationSeries, type EpochPoint, type ValidationPoint } from './series.js';
import type { DatasetTable, Row } from './tables.js';
import type { SelectionBatch } from './selection.js';
import type { FcWeights } from './weights.js';

export interface Chart {
  /** File-safe and unique in a report: NAME.png, data-chart="NAME". */
  name: string;
  /** The dataset section it belongs in (null: none). */
  dataset: string | null;
  title: string;
  /** One or two sentences under the chart. */
  caption: string;
  spec: TopLevelSpec;
}

/** The font Debian ships (fonts-dejavu-core); resvg and Chromium both find it. */
export const FONT = 'DejaVu Sans';
const CONFIG = { font: FONT, view: { stroke: '#ddd' }, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11 } };
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

export const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x';

/** One point of a mean learning curve (long form: one value per split and metric). */
interface CurvePoint {
  label: string;
  split: 'train' | 'val';
  metric: 'loss' | 'accuracy';
  epoch: number;
  wall: number;
  samples: number;
  value: number;
  seeds: number;
}

const avg = (xs: number[]): number => xs.reduce((a, v) => a + v, 0) / xs.length;

/** At point i of the runs' series, the mean over the seeds that have point i (of x values too). */
function meanSeries<P extends ValidationPoint>(label: string, split: 'train' | 'val', series: P[][], value: Record<'loss' | 'accuracy', (p: P) => number | null>): CurvePoint[] {
  const out: CurvePoint[] = [];
  const len = Math.max(0, ...series.map((s) => s.length));
  for (let i = 0; i < len; i++) {
    const pts = series.map((s) => s[i]).filter((p): p is P => p !== undefined);
    const base = { label, split, epoch: avg(pts.map((p) => p.epoch)), wall: avg(pts.map((p) => p.wallSeconds)), samples: avg(pts.map((p) => p.gradientSamples)), seeds: pts.length };
    for (const metric of ['loss', 'accuracy'] as const) {
      const v = pts.map(value[metric]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
      if (v.length) out.push({ ...base, metric, value: avg(v) });
    }
  }
  return out;
}

/**
 * Mean curves of a row: train at each epoch; validation at every validation (validationSeries:
 * with --eval-every, also those inside epochs, at fractional epochs).
 */
function meanCurves(row: Row): CurvePoint[] {
  return [
    ...meanSeries<EpochPoint>(row.label, 'train', row.runs.map((r) => epochSeries(r.metrics)), { loss: (p) => p.trainLoss, accuracy: (p) => p.trainAccuracy }),
    ...meanSeries(row.label, 'val', row.runs.map((r) => validationSeries(r.metrics)), { loss: (p) => p.valLoss, accuracy: (p) => p.valAccuracy }),
  ];
}

const colorOf = (labels: string[]) => ({ field: 'label', type: 'nominal' as const, title: 'method', scale: { domain: labels } });

/** Loss and accuracy side by side against x (epoch or cumulative wall seconds). */
function curvesChart(d: DatasetTable, x: 'epoch' | 'wall', name: string): Chart {
  const values = d.rows.flatMap(meanCurves);
  const labels = d.rows.map((r) => r.label);
  const xEnc = x === 'epoch'
    ? { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: { tickMinStep: 1 } }
    : { field: 'wall', type: 'quantitative' as const, title: 'cumulative wall time, s' };
  const panel = (metric: 'loss' | 'accuracy') => {
    const enc = {
      x: xEnc,
      y: { field: 'value', type: 'quantitative' as const, title: metric === 'loss' ? 'cross-entropy loss' : 'accuracy', ...(metric === 'accuracy' ? { axis: { format: '%' } } : { scale: { zero: false } }) },
      color: colorOf(labels),
      detail: { field: 'split', type: 'nominal' as const },
      tooltip: [{ field: 'label' }, { field: 'split' }, { field: 'epoch', format: '.2~f' }, { field: 'value', format: '.4f' }, { field: 'seeds' }],
    };
    // Lines carry the train/val dash; points are a separate layer so the dash legend shows lines.
    return {
      width: 300, height: 220,
      transform: [{ filter: { field: 'metric', equal: metric } }],
      layer: [
        { mark: { type: 'line' as const }, encoding: { ...enc, strokeDash: { field: 'split', type: 'nominal' as const, title: 'split', scale: { domain: ['train', 'val'] } } } },
        { mark: { type: 'point' as const, filled: true }, encoding: enc },
      ],
    };
  };
  const against = x === 'epoch' ? 'epoch' : 'cumulative wall time';
  return {
    name, dataset: d.dataset,
    title: `${d.dataset}: loss and accuracy against ${against}`,
    caption: `Mean over seeds per method; solid train (of the samples trained on), dashed validation. ${x === 'wall' ? 'Wall time is the sum of the epochs\' times so far, selection cost included.' : ''}`.trim(),
    spec: { $schema: SCHEMA, config: CONFIG, background: 'white', data: { values }, hconcat: [panel('loss'), panel('accuracy')] } as TopLevelSpec,
  };
}

/** Validation accuracy (train accuracy where no run has validation) against cumulative gradient samples. */
function samplesChart(d: DatasetTable, name: string): Chart {
  const all = d.rows.flatMap(meanCurves).filter((p) => p.metric === 'accuracy');
  const hasVal = all.some((p) => p.split === 'val');
  const values = all.filter((p) => p.split === (hasVal ? 'val' : 'train'));
  const what = hasVal ? 'validation accuracy' : 'train accuracy (no validation split)';
  return {
    name, dataset: d.dataset,
    title: `${d.dataset}: ${what} against gradient samples`,
    caption: 'Mean over seeds per method. Gradient samples count the samples that went forward and backward with gradients; a selector that trains on fewer per step moves left.',
    spec: {
      $schema: SCHEMA, config: CONFIG, background: 'white', width: 420, height: 260, data: { values },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'samples', type: 'quantitative', title: 'cumulative gradient samples' },
        y: { field: 'value', type: 'quantitative', title: what, axis: { format: '%' } },
        color: colorOf(d.rows.map((r) => r.label)),
        tooltip: [{ field: 'label' }, { field: 'epoch', format: '.2~f' }, { field: 'samples', format: ',.0f' }, { field: 'value', format: '.4f' }],
      },
    } as TopLevelSpec,
  };
}

/** The three curve charts of each dataset. */
export function curveCharts(datasets: DatasetTable[]): Chart[] {
  return datasets.flatMap((d) => {
    const s = slug(d.dataset);
    return [curvesChart(d, 'epoch', `curves-epoch-${s}`), curvesChart(d, 'wall', `curves-time-${s}`), samplesChart(d, `accuracy-vs-samples-${s}`)];
  });
}

/** Kept vs dropped samples of a few recorded batches in their features' first two principal components. */
export function selectionChart(name: string, dataset: string | null, title: string, batches: SelectionBatch[], about: string): Chart {
  const values = batches.flatMap((b) => Array.from({ length: b.size }, (_, i) => ({
    // The file counts from 0 (as selections.jsonl does); people and metrics.jsonl count epochs from 1.
    batch: `epoch ${b.epoch + 1}, batch ${b.batch + 1} (PC1 ${(100 * b.explained[0]).toFixed(0)}%, PC2 ${(100 * b.explained[1]).toFixed(0)}%)`,
    pc1: b.coords[2 * i]!, pc2: b.coords[2 * i + 1]!,
    status: b.kept.has(i) ? 'kept' : 'dropped',
  })));
  return {
    name, dataset, title,
    caption: `Each point is one sample of the batch, placed by the first two principal components of the features the selector saw (${about}); red dots: kept for the gradient step, grey crosses: dropped. The percentages are the variance each component explains.`,
    spec: {
      $schema: SCHEMA, config: CONFIG, background: 'white', data: { values },
      facet: { field: 'batch', type: 'nominal', title: null, columns: 2 },
      spec: {
        width: 240, height: 200,
        mark: { type: 'point', size: 60, filled: true, opacity: 0.85 },
        encoding: {
          x: { field: 'pc1', type: 'quantitative', title: 'PC1', scale: { zero: false } },
          y: { field: 'pc2', type: 'quantitative', title: 'PC2', scale: { zero: false } },
          color: { field: 'status', type: 'nominal', title: 'sample', scale: { domain: ['kept', 'dropped'], range: ['#d62728', '#8c8c8c'] } },
          shape: { field: 'status', type: 'nominal', title: 'sample', scale: { domain: ['kept', 'dropped'], range: ['circle', 'cross'] } },
        },
      },
      resolve: { scale: { x: 'independent', y: 'independent' } },
    } as TopLevelSpec,
  };
}

/** Heatmap (classes × feature bins) and histogram of the final layer's weights. */
export function weightsChart(name: string, dataset: string | null, title: string, w: FcWeights): Chart {
  const cells: { cls: number; feat: number; value: number }[] = [];
  for (let r = 0; r < w.heat.rows; r++) for (let c = 0; c < w.heat.cols; c++) cells.push({ cls: r, feat: c, value: w.heat.values[r * w.heat.cols + c]! });
  const lim = Math.max(1e-12, ...cells.map((c) => Math.abs(c.value)));
  const binNote = w.heat.colBin > 1 || w.heat.rowBin > 1 ? ` The heatmap averages ${w.heat.rowBin} class(es) × ${w.heat.colBin} feature(s) per cell to fit.` : '';
  return {
    name, dataset, title,
    caption: `${w.key} [${w.rows} classes × ${w.cols} features] of the final checkpoint: values per class and feature (left) and their distribution (right).${binNote}`,
    spec: {
      $schema: SCHEMA, config: CONFIG, background: 'white',
      hconcat: [
        {
          data: { values: cells }, width: Math.min(480, Math.max(240, 6 * w.heat.cols)), height: Math.min(320, Math.max(120, 14 * w.heat.rows)),
          mark: 'rect',
          encoding: {
            x: { field: 'feat', type: 'ordinal', title: w.heat.colBin > 1 ? `feature bin (${w.heat.colBin} features each)` : 'feature', axis: { labels: w.heat.cols <= 32, ticks: w.heat.cols <= 32 } },
            y: { field: 'cls', type: 'ordinal', title: w.heat.rowBin > 1 ? `class bin (${w.heat.rowBin} each)` : 'class', axis: { labels: w.heat.rows <= 40 } },
            color: { field: 'value', type: 'quantitative', title: 'weight', scale: { scheme: 'blueorange', domain: [-lim, lim] } },
          },
        },
        {
          data: { values: w.histogram.map((h) => ({ lo: h.lo, hi: h.hi, count: h.count })) }, width: 260, height: 200,
          mark: 'bar',
          encoding: {
            x: { field: 'lo', type: 'quantitative', title: 'weight value', bin: { binned: true } },
            x2: { field: 'hi' },
            y: { field: 'count', type: 'quantitative', title: 'count', axis: { tickMinStep: 1, format: 'd' } },
          },
        },
      ],
      resolve: { scale: { color: 'independent' } },
    } as TopLevelSpec,
  };
}
