#!/usr/bin/env bash
# Today's code: restore archived runs where run directories are missing, archive finished ones, rewrite results/NAME.json.
# Both experiments share runs/p-cifar-ft/ (selection-tournament.yaml's out), so they share one archive too.
set -euo pipefail
name="${1:?usage: sync.sh EXPERIMENT}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
nice -n 19 node bin/saln.js experiment "experiments/$name.yaml" --registry runs/registry.sqlite --results-only \
  --archive results/runs/p-cifar-ft --machines results/p-cifar-ft.machines.json --lost-runs results/p-cifar-ft.lost.json --results "results/$name.json"
