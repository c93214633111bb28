/** A progress bar per epoch on stderr: img/s, ETA and running loss. Drawn only on a TTY. */
import cliProgress from 'cli-progress';

export interface EpochBar {
  update(samples: number, loss: number): void;
  stop(): void;
}

const NOOP: EpochBar = { update() {}, stop() {} };

export function startEpochBar(enabled: boolean, label: string, total: number): EpochBar {
  if (!enabled || !process.stderr.isTTY) return NOOP;
  const bar = new cliProgress.SingleBar({
    format: `${label} [{bar}] {value}/{total} img | {ips} img/s | loss {loss} | ETA {eta_formatted}`,
    stream: process.stderr,
    hideCursor: null,
    etaBuffer: 20,
  }, cliProgress.Presets.shades_classic);
  const t0 = performance.now();
  bar.start(total, 0, { ips: '-', loss: '-' });
  return {
    update: (samples, loss) => bar.update(samples, { ips: (samples / Math.max((performance.now() - t0) / 1000, 1e-9)).toFixed(1), loss: loss.toFixed(4) }),
    stop: () => bar.stop(),
  };
}
