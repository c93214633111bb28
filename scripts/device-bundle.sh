#!/usr/bin/env bash
# Packs into one folder what a bare GPU machine (PyTorch 2.x and its Python, g++/make, no Node, no
# network) needs to build and run saln, for scripts/device-check.sh to unpack there.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/device-bundle.sh [OUT_DIR]      (default: shared-device/ in the repository root)

Packs, compressed, into OUT_DIR (at most 64 MiB, checked at the end):
  node.xz           this machine's Node binary (`command -v node`; self-contained, needs glibc >= 2.28),
                    stripped of its debug info and static symbol table (the dynamic symbols
                    that addons link against stay)
  node-headers.tar.xz   include/node/ (Node's own headers, less OpenSSL's other-platform configs),
                    so node-gyp compiles the addon offline (--nodedir, no header download)
  app.tar.xz        the app: package.json, bin/, dist/ (compiled TypeScript, tests and benches
                    included), native/, binding.gyp, scripts/, bench/*.py, and the production
                    node_modules (node-gyp and node-addon-api among them; no devDependencies;
                    not playwright-core: only the browser test uses it; not the report
                    renderers vega, vega-lite, @resvg/resvg-js unless DEVICE_WITH_REPORTS=1:
                    `saln report` is not part of the check; better-sqlite3 keeps only its
                    compiled .node, which needs glibc >= 2.34)
  data.tar.xz       shared/ for the checks: the resnet18-torchvision fixture, MobileNetV1-0.75
                    (the SALN feature model) and a CIFAR-10 JPEG subset (DEVICE_TRAIN_PER_CLASS,
                    default 300, and DEVICE_TEST_PER_CLASS, default 100, images a class) of
                    ../shared/datasets/cifar10-jpg
  device-check.sh   a copy of scripts/device-check.sh, to run from the unpacked folder
  MANIFEST.txt      versions, sizes and sha256 of each part

How it travels: OUT_DIR is git-ignored (/shared-device/ in .gitignore), so it goes to the GPU
machine as a carried path: run(carry=["shared-device"], command="bash scripts/device-check.sh").
Unpacking there is done by device-check.sh (xz -dc node.xz > node; chmod +x node; tar -xJf ...).

Run `npx tsc -p .` first (dist/ must be current). The Node binary is compressed once and reused
while its sha256 is unchanged (xz -9 of 99 MB takes minutes on 2 cores).
EOF
}

case "${1:-}" in -h|--help) usage; exit 0 ;; esac
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$ROOT/shared-device}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
SHARED="${SALN_SHARED_DIR:-$ROOT/../shared}"
TRAIN_PER_CLASS="${DEVICE_TRAIN_PER_CLASS:-300}"
TEST_PER_CLASS="${DEVICE_TEST_PER_CLASS:-100}"
LIMIT=$((64 * 1024 * 1024))
XZ="xz -T1"

die() { echo "device-bundle: $*" >&2; exit 1; }
command -v xz >/dev/null || die "xz is missing (apt-get install xz-utils)"
command -v strip >/dev/null || die "strip is missing (apt-get install binutils)"
NODE="$(command -v node)" || die "node is not on PATH"
NODE="$(readlink -f "$NODE")"
[ -f "$ROOT/dist/src/index.js" ] && [ -f "$ROOT/dist/test/engine/device.test.js" ] || die "dist/ is missing or incomplete: run 'npx tsc -p .' first"
[ -d "$ROOT/node_modules/node-gyp" ] || die "node_modules/ has no node-gyp: run 'npm ci' first"
[ -f "$SHARED/fixtures/resnet18-torchvision/model.safetensors" ] || die "no $SHARED/fixtures/resnet18-torchvision (set SALN_SHARED_DIR)"
[ -d "$SHARED/datasets/cifar10-jpg/train" ] || die "no $SHARED/datasets/cifar10-jpg/train"
NODE_PREFIX="$(dirname "$(dirname "$NODE")")"
HEADERS="$NODE_PREFIX/include/node"
[ -f "$HEADERS/node_api.h" ] || HEADERS=/usr/include/node
[ -f "$HEADERS/node_api.h" ] && [ -f "$HEADERS/common.gypi" ] || die "no Node headers (include/node/node_api.h and common.gypi) beside $NODE or in /usr/include/node"

STAGE="$(mktemp -d "${TMPDIR:-/tmp}/saln-bundle.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT

# 1. Node, compressed once per binary.
NODE_SHA="$(sha256sum "$NODE" | cut -d' ' -f1)"
if [ -f "$OUT/node.xz" ] && [ "$(cat "$OUT/node.sha256" 2>/dev/null)" = "$NODE_SHA stripped" ]; then
  echo "node.xz: up to date ($NODE, $("$NODE" --version))"
else
  echo "node.xz: compressing $NODE ($("$NODE" --version), $(du -h "$NODE" | cut -f1)) with xz -9 (a few minutes)..."
  rm -f "$OUT/node.xz" "$OUT/node.sha256"
  strip -o "$STAGE/node" "$NODE"  # keeps .dynsym, which N-API addons resolve against
  "$STAGE/node" --version > /dev/null || die "the stripped node does not run"
  $XZ -9 -c "$STAGE/node" > "$OUT/node.xz.tmp"
  mv "$OUT/node.xz.tmp" "$OUT/node.xz"
  echo "$NODE_SHA stripped" > "$OUT/node.sha256"
fi

# 2. Node's headers: include/node, OpenSSL's per-platform configs only for linux-x86_64.
echo "node-headers.tar.xz: from $HEADERS"
mkdir -p "$STAGE/headers/include"
cp -rL "$HEADERS" "$STAGE/headers/include/node"
if [ -d "$STAGE/headers/include/node/openssl/archs" ]; then
  find "$STAGE/headers/include/node/openssl/archs" -mindepth 1 -maxdepth 1 ! -name linux-x86_64 -exec rm -rf {} +
fi
tar -C "$STAGE/headers" -cf - include | $XZ -9 > "$OUT/node-headers.tar.xz"

# 3. The app and its production node_modules.
echo "app.tar.xz: dist/, sources for the addon build, production node_modules"
APP="$STAGE/app"
mkdir -p "$APP/scripts" "$APP/bench" "$APP/node_modules"
cp -r "$ROOT/package.json" "$ROOT/package-lock.json" "$ROOT/binding.gyp" "$ROOT/bin" "$ROOT/native" "$ROOT/dist" "$APP/"
cp "$ROOT"/scripts/*.sh "$ROOT"/scripts/*.cjs "$APP/scripts/"
cp "$ROOT"/bench/*.py "$APP/bench/"
# Production packages: what the root's dependencies reach through package-lock.json (node's lookup
# up the node_modules chain), top-most folders only. Left out: playwright-core (only the browser
# test uses it, with a browser the GPU machine lacks) and, unless DEVICE_WITH_REPORTS=1, the
# report renderers vega, vega-lite and @resvg/resvg-js with what only they need (saln report).
SKIP="playwright-core"
[ "${DEVICE_WITH_REPORTS:-0}" = 1 ] || SKIP="$SKIP vega vega-lite @resvg/resvg-js"
(cd "$ROOT" && node -e '
  const fs = require("fs");
  const P = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages;
  const skip = new Set(process.argv.slice(1));
  const resolve = (from, name) => {
    for (let base = from; ;) {
      const c = (base ? base + "/" : "") + "node_modules/" + name;
      if (P[c]) return c;
      if (!base) return null;
      const i = base.lastIndexOf("/node_modules/");
      base = i < 0 ? "" : base.slice(0, i);
    }
  };
  const seen = new Set();
  for (const q = [""]; q.length; ) {
    const p = q.shift();
    for (const n of Object.keys({ ...P[p].dependencies, ...P[p].optionalDependencies })) {
      if (p === "" && skip.has(n)) continue;
      const r = resolve(p, n);
      if (!r || seen.has(r) || !fs.existsSync(r)) continue;  // another platform'"'"'s optional package
      seen.add(r);
      q.push(r);
    }
  }
  const top = [...seen].filter((k) => { for (let p = k; ;) { const i = p.lastIndexOf("/node_modules/"); if (i < 0) return true; p = p.slice(0, i); if (seen.has(p)) return false; } });
  console.log(top.filter((k) => k !== "node_modules/better-sqlite3").sort().join("\n"));
' $SKIP) > "$STAGE/prod.txt"
[ -s "$STAGE/prod.txt" ] || die "no production packages found in package-lock.json"
(cd "$ROOT" && tar -cf - -h --exclude='*.map' --exclude='*.md' --exclude='*.d.ts' --exclude='*.d.cts' --exclude='*.d.mts' -T "$STAGE/prod.txt") | tar -C "$APP" -xf -
# better-sqlite3: its JS and the compiled module; not the SQLite sources or the build's objects.
BS="$ROOT/node_modules/better-sqlite3"
mkdir -p "$APP/node_modules/better-sqlite3/build/Release"
cp -r "$BS/package.json" "$BS/lib" "$APP/node_modules/better-sqlite3/"
cp "$BS/build/Release/better_sqlite3.node" "$APP/node_modules/better-sqlite3/build/Release/"
# No stale addon: it is built on the target against its own libtorch. No source maps or typings.
rm -rf "$APP/build"
find "$APP/dist" \( -name '*.map' -o -name '*.d.ts' \) -delete
tar -C "$STAGE" -cf - app | $XZ -9 > "$OUT/app.tar.xz"

# 4. Data: shared/ as the app expects it at ../shared.
DATA_KEY="$TRAIN_PER_CLASS/$TEST_PER_CLASS $(cd "$SHARED" && find fixtures/resnet18-torchvision models/mobilenet_v1_0.75_224 datasets/cifar10-jpg -maxdepth 1 -printf '%p %s %T@\n' | sort | sha256sum | cut -d' ' -f1)"
if [ -f "$OUT/data.tar.xz" ] && [ "$(cat "$OUT/data.key" 2>/dev/null)" = "$DATA_KEY" ]; then
  echo "data.tar.xz: up to date"
else
  echo "data.tar.xz: fixture, MobileNetV1-0.75, CIFAR-10 subset ($TRAIN_PER_CLASS train / $TEST_PER_CLASS test a class)"
  rm -f "$OUT/data.key"
  D="$STAGE/data/shared"
  mkdir -p "$D/fixtures/resnet18-torchvision" "$D/models" "$D/datasets/cifar10-jpg"
  cp "$SHARED"/fixtures/resnet18-torchvision/{README.md,model.safetensors,input.npy,eval_logits.npy,train_step.json} "$D/fixtures/resnet18-torchvision/"
  cp -r "$SHARED/models/mobilenet_v1_0.75_224" "$D/models/"
  for split in train test; do
    n=$TRAIN_PER_CLASS; [ "$split" = test ] && n=$TEST_PER_CLASS
    for cdir in "$SHARED/datasets/cifar10-jpg/$split"/*/; do
      c="$(basename "$cdir")"
      mkdir -p "$D/datasets/cifar10-jpg/$split/$c"
      find "$cdir" -maxdepth 1 -name '*.jpg' | sort > "$STAGE/files.txt"  # (head on a pipe would SIGPIPE sort under pipefail)
      head -n "$n" "$STAGE/files.txt" | xargs cp -t "$D/datasets/cifar10-jpg/$split/$c/"
    done
  done
  tar -C "$STAGE/data" -cf - shared | $XZ -6 > "$OUT/data.tar.xz"
  echo "$DATA_KEY" > "$OUT/data.key"
fi

cp "$ROOT/scripts/device-check.sh" "$OUT/device-check.sh"
chmod +x "$OUT/device-check.sh"

# 5. Manifest and the size check.
{
  echo "saln device bundle, made $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "node: $("$NODE" --version) ($NODE, sha256 $NODE_SHA); needs glibc >= $(objdump -T "$NODE" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1 | cut -d_ -f2)"
  echo "node headers: $HEADERS"
  echo "native deps needing more than glibc: better-sqlite3 (registry only) needs glibc 2.34 and libstdc++ GLIBCXX_3.4.29; sharp ships its libvips"
  echo "to unpack by hand: xz -dc node.xz > node && chmod +x node; tar -xJf app.tar.xz; tar -xJf data.tar.xz; tar -xJf node-headers.tar.xz"
  echo
  for f in node.xz node-headers.tar.xz app.tar.xz data.tar.xz device-check.sh; do
    printf '%10d  %s  %s\n' "$(stat -c %s "$OUT/$f")" "$(sha256sum "$OUT/$f" | cut -d' ' -f1)" "$f"
  done
} > "$OUT/MANIFEST.txt"
cat "$OUT/MANIFEST.txt"
TOTAL=$(du -sb "$OUT" | cut -f1)
echo "bundle: $OUT, $TOTAL bytes ($((TOTAL / 1024 / 1024)) MiB; the limit is 64 MiB)"
[ "$TOTAL" -le "$LIMIT" ] || die "the bundle is over 64 MiB: lower DEVICE_TRAIN_PER_CLASS / DEVICE_TEST_PER_CLASS"
