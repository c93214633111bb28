#!/usr/bin/env bash
# Standard training of P-CIFAR-FT on this machine, on the pinned code: 3 runs, whose median wall
# seconds become this machine's wall budget (results/p-cifar-ft.machines.json). Runs in the
# foreground (about 3 × standard training's time here); nothing else may run beside it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
pinned="${PINNED_DIR:-$repo/../pinned-grid}"
cd "$repo"
slug="$(node experiments/pinned/machine.mjs slug)"
mkdir -p runs
yaml="runs/calibration-$slug.yaml"
# The calibration config at runs/ (the same depth as experiments/, so its relative paths hold), with this machine's out folder.
sed "s#^name: p-cifar-ft-calibration#name: p-cifar-ft-calibration\nout: calibration/$slug#" experiments/p-cifar-ft-calibration.yaml > "$yaml"
sync_calibration() {
  nice -n 19 node bin/saln.js experiment "$yaml" --registry runs/registry.sqlite --results-only \
    --archive "results/runs/calibration/$slug" --results "results/calibration/$slug.json"
}
sync_calibration
node "$pinned/bin/saln.js" experiment "$yaml" --registry runs/registry.sqlite --no-progress --no-report --results "runs/calibration-$slug.pinned.json"
sync_calibration
node experiments/pinned/machine.mjs add "results/calibration/$slug.json"
