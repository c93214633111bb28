/**
 * One checkpoint file per run (run-dir.ts names it), replaced atomically after every epoch:
 *   tensors  `model.<state-dict key>` (parameters and BatchNorm buffers, PyTorch keys) and
 *            `optim.momentum.<param index>` (SGD's momentum buffers);
 *   metadata `saln_checkpoint` = '1' and `state` = JSON of CheckpointState (epochs done, metrics,
 *            time and counts so far, best validation accuracy, selector state, RNG position).
 * One file means the model, optimizer and metrics can never come from different epochs.
 */
import { InputError } from '../errors.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import type { SGD } from '../optim/sgd.js';
import type { Tensor } from '../tensor/index.js';
import type { StoppedBy } from './budget.js';
import type { Learner } from './models.js';
import type { Counts, EpochMetrics, PhaseSeconds } from './records.js';

export interface CheckpointState {
  version: 1;
  epochsDone: number;
  metrics: EpochMetrics[];
  phases: PhaseSeconds;
  counts: Counts;
  wallSeconds: number;
  bestVal: number | null;
  selector: unknown;
  /**
   * Every generator is a function of (seed, epoch, batch): the engine's is reseeded from
   * (seed, epoch) at each epoch start, the loader's and the selectors' are derived. So the RNG
   * state is the seed and the next epoch.
   */
  rng: { seed: number; nextEpoch: number };
  /** Set when a budget (or a non-finite loss) stopped the run: it is finished, and a resume only tests. */
  stoppedBy?: StoppedBy;
  /** The 1-based epoch and step whose train loss was not finite. */
  divergedAt?: { epoch: number; step: number };
}

export function saveCheckpoint(path: string, model: Learner, opt: SGD, state: CheckpointState): void {
  const tensors = new Map<string, Tensor>();
  for (const [k, v] of model.stateDict()) tensors.set(`model.${k}`, v);
  opt.momentumBuffers.forEach((b, i) => {
    if (b) tensors.set(`optim.momentum.${i}`, b);
  });
  saveSafetensors(path, tensors, { saln_checkpoint: '1', state: JSON.stringify(state) });
}

/** Loads model weights and momentum buffers in place; returns the saved state. */
export function loadCheckpoint(path: string, model: Learner, opt: SGD): CheckpointState {
  const f = loadSafetensors(path);
  if (f.metadata.saln_checkpoint !== '1' || !f.metadata.state) {
    for (const t of f.tensors.values()) t.dispose();
    throw new InputError('run-dir', `${path} is not a saln checkpoint`, { path });
  }
  let state: CheckpointState;
  try {
    state = parseState(f.metadata.state, path);
  } catch (e) {
    for (const t of f.tensors.values()) t.dispose();
    throw e;
  }
  const sd = new Map<string, Tensor>();
  for (const [k, t] of f.tensors) {
    if (k.startsWith('model.')) sd.set(k.slice(6), t);
    else if (k.startsWith('optim.momentum.')) {
      const i = Number(k.slice('optim.momentum.'.length));
      if (!(i >= 0 && i < opt.params.length)) throw new Error(`${path}: momentum buffer ${i} for ${opt.params.length} parameters`);
      opt.momentumBuffers[i]?.dispose();
      const p = opt.params[i]!;
      opt.momentumBuffers[i] = p.device === t.device ? t : t.to({ device: p.device });
      if (opt.momentumBuffers[i] !== t) t.dispose();
    }
  }
  try {
    model.loadStateDict(sd);
  } finally {
    for (const t of sd.values()) t.dispose();
  }
  return state;
}

/** The checkpoint's state metadata; a damaged one is bad input naming the file. */
function parseState(text: string, path: string): CheckpointState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InputError('run-dir', `${path}: its state metadata is not valid JSON (${(e as Error).message}); the checkpoint is damaged`, { path, field: 'state' });
  }
  const s = v as Partial<CheckpointState> | null;
  if (!s || typeof s !== 'object' || typeof s.epochsDone !== 'number' || !Array.isArray(s.metrics) || !s.counts || !s.phases) {
    throw new InputError('run-dir', `${path}: its state metadata is not a saln checkpoint state (expected epochsDone, metrics, counts, phases)`, { path, field: 'state' });
  }
  return s as CheckpointState;
}
