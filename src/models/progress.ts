/**
 * Progress bars (cli-progress; the one module that imports it): downloads and feature extraction
 * show value/total, rate and ETA on stderr. On a non-TTY stream cli-progress prints nothing unless
 * the caller passes its own stream (tests, log files), which then gets a line every `everyMs`.
 */
import cliProgress from 'cli-progress';

/** false: no bar; true (default): stderr when it is a TTY; an object: that stream, TTY or not. */
export type ProgressSetting = boolean | { stream: NodeJS.WritableStream; everyMs?: number };

export interface Progress {
  increment(n?: number): void;
  /** Moves to value; `fields` fills the `{name}` placeholders of the start option `fields`. */
  update(value: number, fields?: Record<string, string>): void;
  setTotal(total: number): void;
  stop(): void;
}

const NOOP: Progress = { increment() {}, update() {}, setTotal() {}, stop() {} };

function mib(v: number): string {
  return (v / 1048576).toFixed(1);
}

/**
 * Starts a bar. `units: 'bytes'` shows MiB. `start` is where a resumed job begins (counted as done,
 * and left out of the rate and ETA by cli-progress' moving average after a few updates).
 */
export function startProgress(label: string, total: number, o: { setting?: ProgressSetting; units?: 'bytes' | string; start?: number; fields?: Record<string, string> } = {}): Progress {
  const setting = o.setting ?? true;
  if (setting === false) return NOOP;
  const custom = typeof setting === 'object';
  const stream = custom ? setting.stream : process.stderr;
  const bytes = o.units === 'bytes';
  const unit = bytes ? 'MiB' : (o.units ?? 'items');
  const bar = new cliProgress.SingleBar({
    // Extra fields (a training epoch's img/s and loss) go between the count and the times.
    format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit}${Object.keys(o.fields ?? {}).map((k) => ` | {${k}}`).join('')} | {duration_formatted} elapsed | ETA {eta_formatted}`,
    stream,
    noTTYOutput: custom,
    notTTYSchedule: custom ? (setting.everyMs ?? 2000) : 2000,
    etaBuffer: 20,
    hideCursor: null,
    formatValue: bytes ? (v, _o, type) => (type === 'value' || type === 'total' ? mib(v) : String(v)) : undefined,
  }, cliProgress.Presets.shades_classic);
  bar.start(Math.max(total, 0), o.start ?? 0, o.fields);
  return {
    increment: (n = 1) => bar.increment(n),
    update: (v, fields) => (fields ? bar.update(v, fields) : bar.update(v)),
    setTotal: (t) => bar.setTotal(t),
    stop: () => bar.stop(),
  };
}
