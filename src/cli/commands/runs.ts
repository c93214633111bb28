/**
 * `saln runs`: the run registry (an SQLite file) — list, inspect, compare, register and forget runs.
 *   saln runs ls --experiment cifar10-main
 *   saln runs show 3
 *   saln runs compare 3 4 5
 *   saln runs add runs/saln runs/random --experiment by-hand --label saln-0.8
 *   saln runs rm 3
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { UsageError, type CliIO } from '../io.js';
import { count, fixed, formatTable, type TableColumn } from '../table.js';
import { CommandGroup } from './models.js';
import type { Registry } from '../../experiments/registry.js';
import type { RunRecord } from '../../experiments/run-record.js';
import type { Phase, TrainConfig } from '../../train/records.js';

// Type-only import of trainer.ts: importing its values would load the engine for `saln --help`.
// A Record keeps this list complete: a phase added to the trainer fails to compile here.
const PHASE_SET: Record<Phase, true> = { data: true, scoring: true, selection: true, train: true, eval: true, checkpoint: true };
const PHASES = Object.keys(PHASE_SET) as Phase[];

function runId(text: string): number {
  if (!/^\s*\d+\s*$/.test(text) || !(Number(text) >= 1)) throw new InvalidArgumentError('Expected a run id (an integer >= 1, see `saln runs ls`).');
  return Number(text);
}

const GROUP_HELP = `
The registry is one SQLite file: --registry PATH, else $SALN_REGISTRY, else
<cache>/registry.sqlite (the cache is $SALN_CACHE or ~/.cache/saln). Experiments register
every run they start and update it after each epoch; runs trained by hand with \`saln train\`
are registered with \`saln runs add\`. The run directories stay the source of truth: adding a
run again re-reads it (same id). Accuracies are fractions in [0, 1]; times are seconds.

Exit codes: 0 done; 2 bad input (unknown id, not a run directory, not a registry); 1 anything else.

Examples:
  $ saln runs ls
  $ saln runs ls --experiment cifar10-main --method saln
  $ saln runs show 3
  $ saln runs compare 3 4
  $ saln runs add runs/saln-* --experiment by-hand
  $ saln runs --registry /data/registry.sqlite rm 3
`;

const LS_HELP = `
Columns: id, experiment ('-': added by hand), dataset, label, seed, status (complete once
summary.json exists), epochs done/planned, test accuracy, best validation accuracy, wall
seconds (for an incomplete run: the epochs done so far).

Examples:
  $ saln runs ls --experiment cifar10-main
  $ saln runs ls --status incomplete --json
`;

const SHOW_HELP = `
Prints the run's key config fields, its summary (accuracies, wall seconds, seconds per
phase: ${PHASES.join(', ')}; counts of gradient, scored,
reference, feature and seen samples, and optimizer steps) and one line per epoch.
--json prints the whole record.

Example:
  $ saln runs show 3
`;

const COMPARE_HELP = `
Prints the config fields that differ between the runs, then one row per summary metric (test
and validation accuracy, wall seconds, seconds per phase, sample counts, optimizer steps) with
one column per run. '-' marks a value a run does not have (e.g. an incomplete run's summary);
an incomplete run's best val accuracy and wall seconds are those of its epochs so far.

Example:
  $ saln runs compare 3 4 5
`;

const ADD_HELP = `
Registers directories written by \`saln train\` (config.json, metrics.jsonl, summary.json). A
directory already registered is re-read and keeps its id; --experiment and --label, when given,
replace its previous ones. Every directory is checked before any is registered.

Examples:
  $ saln runs add runs/saln runs/random
  $ saln runs add runs/saln-r0.9 --experiment ratio-sweep --label "saln r=0.9"
`;

interface GroupFlags {
  registry?: string;
}

/** Opens the registry the flags name, runs fn, closes it (registry and run-directory errors are InputErrors: exit 2). */
async function withRegistry<T>(cmd: Command, fn: (reg: Registry) => T): Promise<T> {
  const { Registry, defaultRegistryPath } = await import('../../experiments/registry.js');
  const flags = cmd.optsWithGlobals<GroupFlags>();
  const reg = Registry.open(flags.registry ?? defaultRegistryPath());
  try {
    return fn(reg);
  } finally {
    reg.close();
  }
}

function mustGet(reg: Registry, id: number): RunRecord {
  const r = reg.get(id);
  if (!r) throw new UsageError(`no run with id ${id} in the registry ${reg.path} (see \`saln runs ls\`)`);
  return r;
}

/** What ls and compare show of a run; an incomplete run's best val and wall time come from its epochs so far. */
function stats(r: RunRecord): { epochs: string; testAcc: number | null; bestVal: number | null; wall: number | null } {
  const vals = r.metrics.map((m) => m.val_accuracy).filter((v): v is number => typeof v === 'number');
  return {
    epochs: `${r.metrics.length}/${r.config.epochs}`,
    testAcc: r.summary?.test_accuracy ?? null,
    bestVal: r.summary ? r.summary.best_val_accuracy : vals.length ? Math.max(...vals) : null,
    wall: r.summary ? r.summary.wall_seconds : r.metrics.length ? r.metrics.reduce((a, m) => a + m.wall_seconds, 0) : null,
  };
}

const right = (header: string): TableColumn => ({ header, align: 'right' });
const acc = (v: number | null | undefined): string => fixed(v, 4);
const secs = (v: number | null | undefined): string => fixed(v, 2);

function printLs(io: CliIO, runs: RunRecord[], json: boolean): void {
  const rows = runs.map((r) => ({ id: r.id, experiment: r.experiment, dataset: r.dataset, label: r.label, method: r.method, seed: r.seed, status: r.status, ...stats(r), runDir: r.runDir }));
  if (json) {
    io.out(`${JSON.stringify(rows)}\n`);
    return;
  }
  if (rows.length === 0) {
    io.out('no runs registered (add some with `saln runs add RUN_DIR`)\n');
    return;
  }
  io.out(formatTable(
    [right('id'), 'experiment', 'dataset', 'label', right('seed'), 'status', right('epochs'), right('test acc'), right('best val acc'), right('wall s')],
    rows.map((r) => [String(r.id), r.experiment ?? '-', r.dataset, r.label, String(r.seed), r.status, r.epochs, acc(r.testAcc), acc(r.bestVal), secs(r.wall)]),
  ));
}

/** Methods on --feature-source (selectors/index.ts's FEATURE_METHODS, without loading the engine). */
const onFeatures = (method: string): boolean => method.startsWith('saln') || method === 'kcenter' || method === 'craig' || method === 'rho-diverse';

/** The config fields `show` prints, in this order, when present. */
function keyConfig(c: TrainConfig): [string, string][] {
  const cli = (c.extra?.cli ?? {}) as Record<string, unknown>;
  const fields: [string, unknown][] = [
    ['model', c.model], ['method', c.method], ['filter ratio', c.filterRatio],
    ['schedule', c.schedule && c.schedule.kind !== 'constant' ? JSON.stringify(c.schedule) : undefined],
    ['epochs', c.epochs], ['batch size', c.batchSize], ['lr', c.lr], ['momentum', c.momentum], ['weight decay', c.weightDecay], ['seed', c.seed],
    ['feature source', onFeatures(c.method) ? c.featureSource : undefined], ['solver', c.method.startsWith('saln') ? c.solver : undefined],
    ['jest chunks', c.method === 'jest' ? c.jestChunks : undefined], ['reference', c.reference],
    ['limit train', cli.limitTrain], ['limit val', cli.limitVal], ['limit test', cli.limitTest], ['augment', cli.augment],
  ];
  return fields.filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => [k, String(v)]);
}

function printShow(io: CliIO, r: RunRecord): void {
  const kv = (rows: [string, string][]): string => formatTable(['', ''], rows, { header: false, indent: '  ' });
  let out = `run ${r.id}  ${r.runDir}\n`;
  out += kv([['experiment', r.experiment ?? '-'], ['dataset', r.dataset], ['label', r.label], ['status', r.status], ['registered', r.createdAt], ['updated', r.updatedAt]]);
  out += '\nconfig\n' + kv(keyConfig(r.config));
  const s = r.summary;
  if (s) {
    out += '\nsummary\n' + kv([
      ['test accuracy', acc(s.test_accuracy)], ['test loss', fixed(s.test_loss, 4)], ['best val accuracy', acc(s.best_val_accuracy)],
      ['final val accuracy', acc(s.final_val_accuracy)], ['wall seconds', secs(s.wall_seconds)], ['resumed from epoch', String(s.resumed_from_epoch)],
    ]);
    out += '\nseconds by phase\n' + formatTable(PHASES.map(right), [PHASES.map((p) => secs(s.phases[p]))], { indent: '  ' });
    out += '\ncounts\n' + kv([
      ['gradient samples', count(s.counts.gradient_samples)], ['scored samples', count(s.counts.scored_samples)],
      ['reference samples', count(s.counts.reference_samples)], ['feature samples', count(s.counts.feature_samples)],
      ['seen samples', count(s.counts.seen_samples)], ['optimizer steps', count(s.counts.optimizer_steps)],
    ]);
  } else {
    out += `\nsummary\n  none yet: ${r.metrics.length} of ${r.config.epochs} epochs done\n`;
  }
  out += '\nepochs\n';
  out += r.metrics.length === 0 ? '  none yet\n' : formatTable(
    [right('epoch'), right('filter'), right('train loss'), right('train acc'), right('val loss'), right('val acc'), right('trained'), right('steps'), right('wall s')],
    r.metrics.map((m) => [String(m.epoch), fixed(m.filter_ratio, 3), fixed(m.train_loss, 4), acc(m.train_accuracy), fixed(m.val_loss, 4), acc(m.val_accuracy), count(m.trained_samples), count(m.steps), secs(m.wall_seconds)]),
    { indent: '  ' },
  );
  io.out(out);
}

/** A config as dotted paths → JSON values (arrays stay whole). */
function flatten(v: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (v !== undefined) {
    out.set(prefix, JSON.stringify(v));
  }
  return out;
}

/** Config paths whose values are not all equal. extra.cli repeats the top-level fields and names the run directory, so those are left out. */
export function configDifferences(configs: readonly TrainConfig[]): Map<string, (string | null)[]> {
  const flat = configs.map((c) => flatten(c, '', new Map()));
  const top = new Set(configs.flatMap((c) => Object.keys(c)));
  const keys = [...new Set(flat.flatMap((f) => [...f.keys()]))].filter((k) => k !== 'extra.cli.out' && !(k.startsWith('extra.cli.') && top.has(k.slice('extra.cli.'.length))));
  const out = new Map<string, (string | null)[]>();
  for (const k of keys) {
    const vals = flat.map((f) => f.get(k) ?? null);
    if (vals.some((v) => v !== vals[0])) out.set(k, vals);
  }
  return out;
}

/** A flattened config value for the terminal: strings without their JSON quotes, missing as '-'. */
function showJson(v: string | null): string {
  if (v === null) return '-';
  const x = JSON.parse(v) as unknown;
  return typeof x === 'string' ? x : v;
}

/** The summary metrics compare shows, one row each. */
function compareMetrics(r: RunRecord): [string, number | null, 'acc' | 'secs' | 'count'][] {
  const s = r.summary;
  const st = stats(r);
  return [
    ['test accuracy', st.testAcc, 'acc'], ['best val accuracy', st.bestVal, 'acc'], ['final val accuracy', s?.final_val_accuracy ?? null, 'acc'],
    ['epochs done', r.metrics.length, 'count'], ['wall seconds', st.wall, 'secs'],
    ...PHASES.map((p): [string, number | null, 'secs'] => [`${p} seconds`, s?.phases[p] ?? null, 'secs']),
    ['gradient samples', s?.counts.gradient_samples ?? null, 'count'], ['scored samples', s?.counts.scored_samples ?? null, 'count'],
    ['reference samples', s?.counts.reference_samples ?? null, 'count'], ['feature samples', s?.counts.feature_samples ?? null, 'count'],
    ['optimizer steps', s?.counts.optimizer_steps ?? null, 'count'],
  ];
}

function printCompare(io: CliIO, runs: RunRecord[], json: boolean): void {
  const diffs = configDifferences(runs.map((r) => r.config));
  const metrics = runs.map(compareMetrics);
  if (json) {
    io.out(`${JSON.stringify({
      runs: runs.map((r) => ({ id: r.id, runDir: r.runDir, experiment: r.experiment, dataset: r.dataset, label: r.label, status: r.status })),
      config: Object.fromEntries([...diffs].map(([k, vs]) => [k, vs.map((v) => (v === null ? null : JSON.parse(v) as unknown))])),
      metrics: Object.fromEntries(metrics[0]!.map(([name], i) => [name, metrics.map((m) => m[i]![1])])),
    })}\n`);
    return;
  }
  const cols = ['', ...runs.map((r) => right(`run ${r.id}`))];
  let out = formatTable(cols, [
    ['label', ...runs.map((r) => r.label)], ['experiment', ...runs.map((r) => r.experiment ?? '-')],
    ['dataset', ...runs.map((r) => r.dataset)], ['status', ...runs.map((r) => r.status)],
  ]);
  out += '\nconfig fields that differ\n';
  out += diffs.size === 0 ? '  none\n' : formatTable(['', ...runs.map((r) => right(`run ${r.id}`))], [...diffs].map(([k, vs]) => [k, ...vs.map(showJson)]), { indent: '  ', header: false });
  out += '\nsummary\n';
  const fmt = { acc, secs, count } as const;
  out += formatTable(['', ...runs.map((r) => right(`run ${r.id}`))], metrics[0]!.map(([name, , kind], i) => [name, ...metrics.map((m) => fmt[kind](m[i]![1]))]), { indent: '  ', header: false });
  io.out(out);
}

export function runsCommand(io: CliIO): Command {
  const cmd = new CommandGroup('runs')
    .summary('list, inspect and compare registered training runs')
    .description('The run registry: every run an experiment started, and runs added by hand, with their configs, per-epoch metrics and summaries.')
    .option('--registry <path>', 'the registry file (default $SALN_REGISTRY, else <cache>/registry.sqlite)')
    .addHelpText('after', GROUP_HELP);

  cmd.command('ls')
    .description('List registered runs, ordered by id.')
    .option('--experiment <name>', 'only this experiment\'s runs')
    .option('--dataset <name>', 'only runs on this dataset (e.g. cifar10)')
    .option('--method <name>', 'only runs of this method (e.g. saln)')
    .option('--label <label>', 'only runs with this label')
    .addOption(new Option('--status <s>', 'only complete or incomplete runs').choices(['complete', 'incomplete']))
    .option('--json', 'print one JSON line')
    .addHelpText('after', LS_HELP)
    .action(async (flags: { experiment?: string; dataset?: string; method?: string; label?: string; status?: 'complete' | 'incomplete'; json?: boolean }, sub: Command) => {
      const runs = await withRegistry(sub, (reg) => reg.list({ experiment: flags.experiment, dataset: flags.dataset, method: flags.method, label: flags.label, status: flags.status }));
      printLs(io, runs, flags.json ?? false);
    });

  cmd.command('show')
    .argument('<id>', 'the run id (see `saln runs ls`)', runId)
    .description('Show one run: config, summary with per-phase seconds and counts, and its epochs.')
    .option('--json', 'print the whole record as one JSON line')
    .addHelpText('after', SHOW_HELP)
    .action(async (id: number, flags: { json?: boolean }, sub: Command) => {
      const r = await withRegistry(sub, (reg) => mustGet(reg, id));
      if (flags.json) io.out(`${JSON.stringify(r)}\n`);
      else printShow(io, r);
    });

  cmd.command('compare')
    .argument('<ids...>', 'two or more run ids', (t: string, prev: number[] | undefined) => [...(prev ?? []), runId(t)])
    .description('Compare runs side by side: the config fields that differ, then summary metrics.')
    .option('--json', 'print one JSON line')
    .addHelpText('after', COMPARE_HELP)
    .action(async (ids: number[], flags: { json?: boolean }, sub: Command) => {
      if (ids.length < 2) throw new UsageError('compare: give at least two run ids');
      const runs = await withRegistry(sub, (reg) => ids.map((id) => mustGet(reg, id)));
      printCompare(io, runs, flags.json ?? false);
    });

  cmd.command('add')
    .argument('<run-dirs...>', 'run directories written by `saln train`')
    .description('Register (or re-read) runs trained by hand.')
    .option('--experiment <name>', 'the experiment to file them under')
    .option('--label <label>', 'how reports name them (default: the method)')
    .addHelpText('after', ADD_HELP)
    .action(async (dirs: string[], flags: { experiment?: string; label?: string }, sub: Command) => {
      const { readRunDir } = await import('../../experiments/run-record.js');
      const added = await withRegistry(sub, (reg) => {
        for (const d of dirs) readRunDir(d); // all or nothing: a bad directory fails before any is registered
        return dirs.map((d) => reg.ingest(d, { experiment: flags.experiment, label: flags.label }));
      });
      for (const r of added) io.out(`run ${r.id}: ${r.runDir} (${r.status}, ${r.metrics.length}/${r.config.epochs} epochs, label ${r.label})\n`);
    });

  cmd.command('rm')
    .argument('<id>', 'the run id', runId)
    .description('Forget a run (its directory is left as it is).')
    .action(async (id: number, _flags: unknown, sub: Command) => {
      const r = await withRegistry(sub, (reg) => {
        const rec = mustGet(reg, id);
        reg.remove(id);
        return rec;
      });
      io.out(`removed run ${r.id} (${r.runDir}); its directory is left as it is\n`);
    });
  return cmd;
}
