/**
 * One checkpoint file per run, `checkpoint.safetensors`, replaced atomically after every epoch:
 *   tensors  `model.<state-dict key>` (parameters and BatchNorm buffers, PyTorch keys) and
 *            `optim.momentum.<param index>` (SGD's momentum buffers);
 *   metadata `saln_checkpoint` = '1' and `state` = JSON of CheckpointState (epochs done, metrics,
 *            time and counts so far, best validation accuracy, selector state, RNG position).
 * One file means the model, optimizer and metrics can never come from different epochs.
 */
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import type { SGD } from '../optim/sgd.js';
import type { Tensor } from '../tensor/index.js';
import type { StoppedBy } from './budget.js';
import type { Learner } from './models.js';
import type { Counts, EpochMetrics, PhaseSeconds } from './trainer.js';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';

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
  /** Set when a budget stopped the run: it is finished, and a resume only tests. */
  stoppedBy?: StoppedBy;
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
    throw new Error(`${path} is not a saln checkpoint`);
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
  return JSON.parse(f.metadata.state) as CheckpointState;
}
