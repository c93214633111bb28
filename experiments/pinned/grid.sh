#!/usr/bin/env bash
# Restores the archived runs of experiments/NAME.yaml, then runs it on the pinned code in the
# background, its wall cells on this machine's budget (calibrate.sh measures it once per machine).
set -euo pipefail
name="${1:?usage: grid.sh EXPERIMENT (p-cifar-ft or selection-tournament)}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
pinned="${PINNED_DIR:-$repo/../pinned-grid}"
cd "$repo"
budget="$(node experiments/pinned/machine.mjs budget)"
bash experiments/pinned/sync.sh "$name"
mkdir -p runs
SALN_WALL_BUDGET="$budget" SALN_DONE_ELSEWHERE="$repo/results/p-cifar-ft.lost.json" nohup node "$pinned/bin/saln.js" experiment "experiments/$name.yaml" \
  --registry runs/registry.sqlite --no-progress --no-report --results "runs/$name.pinned.json" >> "runs/$name.log" 2>&1 &
echo "started (pid $!; wall budget $budget s on $(node experiments/pinned/machine.mjs name)); log: runs/$name.log"
