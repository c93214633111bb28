/**
 * Module: PyTorch's nn.Module without the attribute magic. Parameters, buffers and children are
 * registered explicitly, in order; state-dict keys are PyTorch's (`layer1.0.bn1.running_mean`),
 * so torchvision weights load unchanged.
 */
import { EngineError } from '../binding/errors.js';
import { isFloating } from '../tensor/dtype.js';
import { keep, noGrad } from '../tensor/scope.js';
import type { Device, MemoryFormat, Tensor } from '../tensor/tensor.js';

export type StateDict = Map<string, Tensor>;

function checkName(kind: string, name: string, taken: (n: string) => boolean): void {
  if (name === '' || name.includes('.')) throw new EngineError(`${kind} name must be non-empty and contain no ".", got ${JSON.stringify(name)}`);
  if (taken(name)) throw new EngineError(`attribute ${JSON.stringify(name)} is already registered`);
}

export abstract class Module<In = Tensor, Out = Tensor> {
  training = true;
  readonly #params = new Map<string, Tensor | null>();
  readonly #buffers = new Map<string, { t: Tensor | null; persistent: boolean }>();
  readonly #modules = new Map<string, Module<any, any>>();

  abstract forward(input: In): Out;

  /** Same as forward(); the name PyTorch users call. */
  call(input: In): Out {
    return this.forward(input);
  }

  #taken = (n: string): boolean => this.#params.has(n) || this.#buffers.has(n) || this.#modules.has(n);

  /** Registers a trainable tensor (sets requires_grad, and keeps it out of any tidy scope). */
  registerParameter<T extends Tensor | null>(name: string, t: T): T {
    checkName('parameter', name, this.#taken);
    if (t) keep(t).requiresGrad_(true);
    this.#params.set(name, t);
    return t;
  }

  /** Registers state that is not trained (running stats). Non-persistent buffers stay out of stateDict. */
  registerBuffer<T extends Tensor | null>(name: string, t: T, persistent = true): T {
    checkName('buffer', name, this.#taken);
    if (t) keep(t);
    this.#buffers.set(name, { t, persistent });
    return t;
  }

  registerModule<M extends Module<any, any>>(name: string, m: M): M {
    checkName('module', name, this.#taken);
    this.#modules.set(name, m);
    return m;
  }

  /**
   * Swaps a registered child for another (PyTorch's `model.fc = nn.Linear(…)`), keeping its place
   * in the key order. Typed fields that pointed at the old child must be updated by the caller.
   */
  replaceModule<M extends Module<any, any>>(name: string, m: M): M {
    if (!this.#modules.has(name)) throw new EngineError(`replaceModule: no child module named ${JSON.stringify(name)}`);
    this.#modules.set(name, m);
    return m;
  }

  *namedChildren(): IterableIterator<[string, Module<any, any>]> {
    yield* this.#modules;
  }
  *children(): IterableIterator<Module<any, any>> {
    yield* this.#modules.values();
  }
  *namedModules(prefix = ''): IterableIterator<[string, Module<any, any>]> {
    yield [prefix, this];
    for (const [n, m] of this.#modules) yield* m.namedModules(prefix ? `${prefix}.${n}` : n);
  }
  *namedParameters(prefix = '', recurse = true): IterableIterator<[string, Tensor]> {
    for (const [n, p] of this.#params) if (p) yield [prefix + n, p];
    if (recurse) for (const [n, m] of this.#modules) yield* m.namedParameters(`${prefix}${n}.`);
  }
  parameters(recurse = true): Tensor[] {
    return Array.from(this.namedParameters('', recurse), ([, p]) => p);
  }
  *namedBuffers(prefix = '', recurse = true): IterableIterator<[string, Tensor]> {
    for (const [n, b] of this.#buffers) if (b.t) yield [prefix + n, b.t];
    if (recurse) for (const [n, m] of this.#modules) yield* m.namedBuffers(`${prefix}${n}.`);
  }
  buffers(recurse = true): Tensor[] {
    return Array.from(this.namedBuffers('', recurse), ([, b]) => b);
  }

  /** Parameters, then persistent buffers, then children: PyTorch's key order. Tensors are shared, not copied. */
  stateDict(prefix = '', out: StateDict = new Map()): StateDict {
    for (const [n, p] of this.#params) if (p) out.set(prefix + n, p);
    for (const [n, b] of this.#buffers) if (b.t && b.persistent) out.set(prefix + n, b.t);
    for (const [n, m] of this.#modules) m.stateDict(`${prefix}${n}.`, out);
    return out;
  }

  /**
   * Copies values into this module's tensors (converting dtype, e.g. float16 files into float32
   * weights). With strict (default), missing or unexpected keys are an error that lists them.
   */
  loadStateDict(sd: StateDict | Record<string, Tensor>, opts: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const src = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !src.has(k));
    const unexpected = [...src.keys()].filter((k) => !own.has(k));
    if ((opts.strict ?? true) && (missing.length || unexpected.length)) {
      const parts = [];
      if (missing.length) parts.push(`missing keys: ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected keys: ${unexpected.join(', ')}`);
      throw new EngineError(`loadStateDict: ${parts.join('; ')}`);
    }
    for (const [k, dst] of own) {
      const s = src.get(k);
      if (!s) continue;
      if (s.shape.join(',') !== dst.shape.join(',')) {
        throw new EngineError(`loadStateDict: size mismatch for ${k}: the file has [${s.shape.join(', ')}], the model has [${dst.shape.join(', ')}]`);
      }
    }
    noGrad(() => {
      for (const [k, dst] of own) {
        const s = src.get(k);
        if (s) dst.copy_(s);
      }
    });
    return { missing, unexpected };
  }

  /** Sets training mode recursively (BatchNorm uses batch stats, Dropout drops). Returns this. */
  train(mode = true): this {
    this.training = mode;
    for (const m of this.#modules.values()) m.train(mode);
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Moves every parameter and buffer to device (and/or dtype for floating ones), keeping their identity. */
  to(opts: { device?: Device; dtype?: 'float32' | 'float64' } | Device): this {
    const o = typeof opts === 'string' ? { device: opts } : opts;
    noGrad(() => {
      for (const t of [...this.parameters(), ...this.buffers()]) {
        const moved = t.to({ device: o.device, dtype: isFloating(t.dtype) ? o.dtype : undefined });
        t.setData_(moved);
        moved.dispose();
      }
    });
    return this;
  }

  /**
   * Lays out every 4-D parameter and buffer (conv weights) in memoryFormat, once, keeping their
   * identity (PyTorch's `model.to(memory_format=torch.channels_last)`). Feed channels-last input
   * too: oneDNN then runs convolutions without reordering. stateDict() still saves row-major
   * data: saveSafetensors copies each tensor out in C order.
   */
  toMemoryFormat(memoryFormat: MemoryFormat): this {
    noGrad(() => {
      for (const t of [...this.parameters(), ...this.buffers()]) {
        if (t.ndim !== 4 || t.isContiguous(memoryFormat)) continue;
        const laid = t.contiguous(memoryFormat);
        t.setData_(laid);
        laid.dispose();
      }
    });
    return this;
  }

  /** Sets every parameter's .grad to None. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.clearGrad();
  }

  /** Freezes (or unfreezes) every parameter of this module. */
  requiresGrad_(on = true): this {
    for (const p of this.parameters()) p.requiresGrad_(on);
    return this;
  }

  /** The non-default settings, shown by toString() (PyTorch's extra_repr). */
  extraRepr(): string {
    return '';
  }

  toString(): string {
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (this.#modules.size === 0) return `${head})`;
    const kids = [...this.#modules].map(([n, m]) => `  (${n}): ${m.toString().split('\n').join('\n  ')}`);
    return `${head}\n${kids.join('\n')}\n)`;
  }
}
