/** Reports from run records: tables, charts, and the HTML report folder. */
export { mean, sampleStd, studentTQuantile, studentTCdf, summarize, type Stat } from './stats.js';
export { buildTables, compare, type Comparison, type DatasetTable, type Row, type Tables, type TimeToTarget } from './tables.js';
export { formatSummaryTable, formatTables, formatStat, datasetTablesHtml } from './table-format.js';
export { accuracyWithin, epochSeries, timeToTarget, validationSeries, type BudgetPoint, type EpochPoint } from './series.js';
export { curveCharts, selectionChart, weightsChart, type Chart } from './charts.js';
export { pca2, type Projection } from './pca.js';
export { readSelectionExamples, type SelectionBatch, type SelectionExamples } from './selection.js';
export { readFcWeights, type FcWeights } from './weights.js';
export { specToSvg, svgToPng, pngSize } from './render.js';
export { writeReport, type ReportOptions, type ReportResult } from './report.js';
export { buildResults, pairEntries, readResults, writeResults, resultsFileSchema, resultEntrySchema, type PairedEntries, type ResultsFile, type ResultEntry } from './results.js';
export { HEADLINE_COLUMNS, headlineCells, markdownTable, PAIR_COLUMNS, pairCells, verdictCells, verdictColumns } from './headline.js';
