#!/usr/bin/env bash
# Builds the pinned code (README.md here) in a worktree beside the repository: ../pinned-grid.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
pinned="${PINNED_DIR:-$repo/../pinned-grid}"
if [ ! -d "$pinned" ]; then
  git -C "$repo" worktree prune
  git -C "$repo" worktree add --detach "$pinned" d776d6b
  git -C "$pinned" -c user.name=pinned -c user.email=pinned@saln am -q "$repo"/experiments/pinned/000*.patch
fi
ln -sfn "$repo/node_modules" "$pinned/node_modules"
cd "$pinned"
node node_modules/node-gyp/bin/node-gyp.js rebuild -j 2 --nodedir=/usr > build.log 2>&1 || { tail -20 build.log; exit 1; }
npx tsc -p .
echo "pinned code ready in $pinned ($(git -C "$pinned" log --oneline | head -1))"
