#!/usr/bin/env bash
# The GPU check of saln in one command: unpack the device bundle (scripts/device-bundle.sh), build
# the addon against the machine's PyTorch, then run the CUDA conformance test, the benches beside
# PyTorch on the same GPU, and two short training runs, each time-boxed, all under one deadline.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/device-check.sh [--cpu] [--bundle DIR] [--out DIR] [--work DIR] [--budget SECONDS]

On a GPU machine with PyTorch 2.x (CUDA) and its Python, g++ and make, without Node or network:
  1. unpacks the bundle (default: shared-device/ beside scripts/, or the folder holding this
     script when it lies in an unpacked bundle): Node into WORK/bin, Node's headers into
     WORK/include/node (node-gyp builds offline from them), the app into WORK/saln and the data
     into WORK/shared (the app's ../shared);
  2. builds the addon against the machine's PyTorch:
     LIBTORCH=$(python3 -c 'import torch;print(torch.__path__[0])'), with the C++ ABI flag taken
     from torch._C._GLIBCXX_USE_CXX11_ABI;
  3. runs, each step time-boxed (`timeout`), a failure recorded without stopping the others:
       conformance      test/engine/device.test.ts: ResNet-18 logits on CUDA against PyTorch's
       bench-engine     bench:engine --device cuda beside PyTorch on the same GPU: the engine's
                        default (auto: bf16 + channels-last on a GPU of compute capability 8.0+)
                        against PyTorch fp32, and bf16 + channels-last on both sides
       bench-features   bench:features --device cuda, the same two pairs
       train-none       saln train, standard training, CIFAR-10 subset, --device cuda
       train-saln       saln train --method saln (MobileNetV1-0.75 features), --device cuda
       engine-tests     test/engine/*.test.ts (CPU ops against this libtorch; on 2.x, new ground)
Everything goes under OUT (default ./device-out): steps.jsonl (one line per step: status ok,
failed, timeout or skipped, exit code, seconds), STEP.log, STEP.json (a bench's result line),
env.json (GPU, PyTorch, compilers), runs/*/ (the runs' config, metrics and summary), and
SUMMARY.txt.

Options:
  --cpu            the dry run: Debian's libtorch (LIBTORCH unset, unless set), --device cpu, and
                   small sizes so that the whole run takes minutes on 2 cores
  --bundle DIR     the bundle folder
  --out DIR        where results go (default ./device-out; $OUT when set, as on the GPU machine)
  --work DIR       where the bundle is unpacked (default ${TMPDIR:-/tmp}/saln-device)
  --budget S       the deadline for everything, unpacking included (default 550, for a 600 s
                   command; 840 with --cpu);
                   each step's timeout is cut to what is left, and a step with under 20 s left
                   is skipped
  -h, --help       this text
Environment: SALN_PYTHON (the Python with PyTorch; default python3, /usr/bin/python3 with --cpu).

On the GPU machine (the bundle carried as shared-device/):
  bash scripts/device-check.sh
EOF
}

CPU=0; BUNDLE=""; OUTDIR="${OUT:-}"; WORK=""; BUDGET=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) CPU=1 ;;
    --bundle) BUNDLE="${2:?--bundle needs a folder}"; shift ;;
    --out) OUTDIR="${2:?--out needs a folder}"; shift ;;
    --work) WORK="${2:?--work needs a folder}"; shift ;;
    --budget) BUDGET="${2:?--budget needs seconds}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "device-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

START=$(date +%s)
HERE="$(cd "$(dirname "$0")" && pwd)"
die() { echo "device-check: $*" >&2; exit 1; }
if [ -z "$BUNDLE" ]; then
  if [ -f "$HERE/app.tar.xz" ]; then BUNDLE="$HERE"; else BUNDLE="$HERE/../shared-device"; fi
fi
[ -f "$BUNDLE/app.tar.xz" ] || die "no bundle at $BUNDLE (make one with scripts/device-bundle.sh, or pass --bundle DIR)"
BUNDLE="$(cd "$BUNDLE" && pwd)"
OUTDIR="${OUTDIR:-$PWD/device-out}"
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
WORK="${WORK:-${TMPDIR:-/tmp}/saln-device}"
if [ -z "$BUDGET" ]; then if [ $CPU = 1 ]; then BUDGET=840; else BUDGET=550; fi; fi
DEADLINE=$((START + BUDGET))
if [ $CPU = 1 ]; then DEVICE=cpu; PY="${SALN_PYTHON:-/usr/bin/python3}"; else DEVICE=cuda; PY="${SALN_PYTHON:-$(command -v python3 || true)}"; fi
[ -n "$PY" ] || die "no python3 on PATH (set SALN_PYTHON to the Python with PyTorch)"
PY="$(command -v "$PY")" || die "SALN_PYTHON=$PY is not found"
export SALN_PYTHON="$PY"
STEPS="$OUTDIR/steps.jsonl"
: > "$STEPS"
say() { echo "[device-check $(($(date +%s) - START))s] $*"; }

# One JSON line per step. Args: name status rc seconds note
record() {
  local note="${5//\\/\\\\}"; note="${note//\"/\\\"}"
  printf '{"step":"%s","status":"%s","rc":%s,"seconds":%s,"note":"%s"}\n' "$1" "$2" "$3" "$4" "$note" >> "$STEPS"
  say "$1: $2 (rc $3, $4 s)${5:+: $5}"
}

# step NAME CAP_SECONDS CMD...: runs CMD in the app folder with a timeout of min(CAP, time left - 10 s),
# output to OUT/NAME.log, the last JSON line of the log to OUT/NAME.json; never fails the script.
step() {
  local name="$1" cap="$2"; shift 2
  local left=$((DEADLINE - $(date +%s) - 10))
  if [ "$left" -lt 20 ]; then record "$name" skipped null 0 "out of time (budget ${BUDGET}s)"; return 0; fi
  local t=$((cap < left ? cap : left))
  say "$name: starting (timeout ${t}s)"
  local s0 rc=0
  s0=$(date +%s)
  (cd "$APPDIR" && timeout --kill-after=10 "$t" "$@") > "$OUTDIR/$name.log" 2>&1 || rc=$?
  local dt=$(($(date +%s) - s0))
  grep '^{' "$OUTDIR/$name.log" | tail -n 1 > "$OUTDIR/$name.json" || true
  [ -s "$OUTDIR/$name.json" ] || rm -f "$OUTDIR/$name.json"
  if [ $rc = 0 ]; then record "$name" ok 0 "$dt" ""
  elif [ $rc = 124 ] || [ $rc = 137 ]; then record "$name" timeout "$rc" "$dt" "killed after ${t}s; see $name.log"
  else record "$name" failed "$rc" "$dt" "$(grep -v '^\s*$' "$OUTDIR/$name.log" | tail -n 1 | cut -c1-300)"
  fi
  return 0
}

# ---- 1. unpack
say "bundle $BUNDLE -> work $WORK; results in $OUTDIR; device $DEVICE; deadline ${BUDGET}s"
# WORK is emptied first: only a folder this script made (it holds .saln-device-work) or an empty one.
if [ -d "$WORK" ] && [ -n "$(ls -A "$WORK")" ] && [ ! -f "$WORK/.saln-device-work" ]; then
  die "--work $WORK holds files this script did not put there; pick another folder"
fi
rm -rf "$WORK"
mkdir -p "$WORK/bin"
touch "$WORK/.saln-device-work"
s0=$(date +%s)
# xz where it is installed, else Python's lzma (a bare image may lack xz-utils).
unxz_to() {
  if command -v xz > /dev/null; then xz -dc "$1" > "$2"
  else "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
untar_xz() {
  if command -v xz > /dev/null; then tar -C "$1" -xJf "$2"
  else "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[2], "r:xz").extractall(sys.argv[1])' "$1" "$2"; fi
}
unxz_to "$BUNDLE/node.xz" "$WORK/bin/node"
chmod +x "$WORK/bin/node"
untar_xz "$WORK" "$BUNDLE/node-headers.tar.xz"
untar_xz "$WORK" "$BUNDLE/app.tar.xz"
mv "$WORK/app" "$WORK/saln"
untar_xz "$WORK" "$BUNDLE/data.tar.xz"
APPDIR="$WORK/saln"
export PATH="$WORK/bin:$PATH"
[ "$(command -v node)" = "$WORK/bin/node" ] || die "PATH does not pick the bundle's node"
node --version > /dev/null || die "the bundle's node does not run here: $(node --version 2>&1 | head -n 1)"
record unpack ok 0 $(($(date +%s) - s0)) "node $(node --version) from the bundle"

# ---- environment
"$PY" - "$DEVICE" > "$OUTDIR/env.json" 2> "$OUTDIR/env.log" <<'EOF' || true
import json, os, platform, subprocess, sys
info = {'python': sys.executable, 'python_version': platform.python_version(), 'device': sys.argv[1]}
try:
    import torch
    info.update(torch=torch.__version__, torch_dir=os.path.dirname(torch.__file__), cuda_build=torch.version.cuda,
                cxx11_abi=bool(torch._C._GLIBCXX_USE_CXX11_ABI), cuda_available=torch.cuda.is_available())
    if torch.cuda.is_available():
        info.update(gpu=torch.cuda.get_device_name(0), gpu_count=torch.cuda.device_count(),
                    cudnn=torch.backends.cudnn.version(), capability=list(torch.cuda.get_device_capability(0)))
except Exception as e:  # recorded, not fatal: the build step will say more
    info['torch_error'] = repr(e)
try:
    import torchvision
    info['torchvision'] = torchvision.__version__
except Exception:
    info['torchvision'] = None
for tool, args in (('gxx', ['g++', '--version']), ('make', ['make', '--version']), ('glibc', ['ldd', '--version'])):
    try:
        info[tool] = subprocess.run(args, capture_output=True, text=True).stdout.splitlines()[0]
    except Exception as e:
        info[tool] = None
info['nproc'] = os.cpu_count()
print(json.dumps(info))
EOF
(nvidia-smi || true) > "$OUTDIR/nvidia-smi.txt" 2>&1
say "env: $(cat "$OUTDIR/env.json" 2>/dev/null || echo 'python/torch not readable, see env.log')"
for tool in g++ make; do command -v $tool > /dev/null || record "toolchain" failed 1 0 "$tool is missing: the addon cannot be built here"; done

# ---- 2. build the addon
if [ $CPU = 0 ] || [ -n "${LIBTORCH:-}" ]; then
  if [ -z "${LIBTORCH:-}" ]; then
    LIBTORCH="$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))')" || die "$PY cannot import torch"
  fi
  export LIBTORCH
  SALN_CXX11_ABI="$("$PY" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null || true)"
  [ -n "$SALN_CXX11_ABI" ] && export SALN_CXX11_ABI
  # pip's CUDA libraries (cuDNN, cuBLAS, ...) live in site-packages/nvidia/*/lib; libtorch_cuda's
  # RUNPATH names them relative to itself, and LD_LIBRARY_PATH is the fallback if it does not.
  NV="$(cd "$LIBTORCH/.." && ls -d "$PWD"/nvidia/*/lib 2>/dev/null | tr '\n' ':' || true)"
  [ -n "$NV" ] && export LD_LIBRARY_PATH="${NV}$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "LIBTORCH=$LIBTORCH SALN_CXX11_ABI=${SALN_CXX11_ABI:-?}"
fi
# node-gyp: --nodedir WORK (scripts/build-native.cjs passes it when WORK/include/node exists), so
# it downloads nothing; its cache goes to WORK/home.
export HOME="$WORK/home"; mkdir -p "$HOME"
export npm_config_nodedir="$WORK"
# 16 cores build it in about a minute; 2 shared cores can take ten.
if [ $CPU = 1 ]; then BUILD_CAP=900; else BUILD_CAP=300; fi
step build "$BUILD_CAP" node scripts/build-native.cjs
if [ ! -f "$APPDIR/build/Release/saln_native.node" ]; then
  say "the addon did not build: every later step would fail; see $OUTDIR/build.log"
fi
step load 30 node -e "import('./dist/src/tensor/index.js').then(t => { const i = t.engineInfo(); console.log(JSON.stringify({ libtorch: i.torch, cuda: t.isCudaAvailable(), cuda_devices: t.cudaDeviceCount() })); })"

# ---- 3. the checks
SHARED="$WORK/shared"
export SALN_MOBILENET_DIR="$SHARED/models/mobilenet_v1_0.75_224"
export SALN_CACHE="$WORK/cache"
DATA="$SHARED/datasets/cifar10-jpg"
if [ $CPU = 1 ]; then
  ENGINE_ARGS=(--rounds 1 --warmup 1 --steps 1 --batch 8 --threads 2)
  FEATURE_ARGS=(--rounds 1 --warmup 0 --steps 1 --batch224 2 --batch64 4 --threads 2 --pipeline-images 8)
  TRAIN_ARGS=(--epochs 1 --limit-train 400 --limit-val 100 --limit-test 200 --batch-size 64 --threads 2 --budget-seconds 60)
  SALN_ARGS=(--feature-size 32)
  TRAIN_CAP=150  # 64-103 s seen on the shared 2 cores
else
  ENGINE_ARGS=(--rounds 2 --warmup 5 --steps 30 --batch 256 --threads 8)
  FEATURE_ARGS=(--rounds 2 --warmup 2 --steps 10 --batch224 64 --batch64 256 --threads 8 --pipeline-images 2048)
  TRAIN_ARGS=(--epochs 5 --batch-size 128 --budget-seconds 45)
  SALN_ARGS=(--feature-size 64)
  TRAIN_CAP=100
fi
TRAIN=(node bin/saln.js train --dataset cifar10 --data-dir "$DATA" --model resnet18-cifar --lr 0.01 --device "$DEVICE" --seed 0 --json --no-progress --cache-dir "$SALN_CACHE" "${TRAIN_ARGS[@]}")

step conformance 90 node --test dist/test/engine/device.test.js
step bench-engine 150 node dist/bench/engine.js --json --device "$DEVICE" "${ENGINE_ARGS[@]}"
step bench-features 150 node dist/bench/features.js --json --device "$DEVICE" "${FEATURE_ARGS[@]}"
step train-none "$TRAIN_CAP" "${TRAIN[@]}" --method none --out "$WORK/runs/none"
step train-saln "$((TRAIN_CAP + 20))" "${TRAIN[@]}" --method saln --filter-ratio 0.8 --feature-model mobilenet-v1-0.75 "${SALN_ARGS[@]}" --out "$WORK/runs/saln"
ENGINE_TESTS=()
while IFS= read -r f; do ENGINE_TESTS+=("$f"); done < <(cd "$APPDIR" && ls dist/test/engine/*.test.js | grep -v '/device\.test\.js$' | { if [ $CPU = 1 ]; then grep -v '/memory\.test\.js$'; else cat; fi; })
# (--cpu leaves out memory.test.js: 2,000 training steps, minutes on 2 cores, and the dry run only
# needs to show that the step runs.)
step engine-tests 100 node --test --test-concurrency=1 "${ENGINE_TESTS[@]}"

# ---- results
for r in none saln; do
  if [ -d "$WORK/runs/$r" ]; then
    mkdir -p "$OUTDIR/runs/$r"
    for f in config.json metrics.jsonl summary.json; do [ -f "$WORK/runs/$r/$f" ] && cp "$WORK/runs/$r/$f" "$OUTDIR/runs/$r/"; done
  fi
done
{
  echo "saln device check: device $DEVICE, $(($(date +%s) - START)) s in all (budget ${BUDGET}s)"
  cat "$OUTDIR/env.json" 2>/dev/null || true
  echo
  cat "$STEPS"
  for j in "$OUTDIR"/*.json; do [ "$(basename "$j")" = env.json ] || { echo; echo "== $(basename "$j")"; cat "$j"; }; done
  for r in none saln; do [ -f "$OUTDIR/runs/$r/summary.json" ] && { echo; echo "== runs/$r/summary.json"; cat "$OUTDIR/runs/$r/summary.json"; }; done
} > "$OUTDIR/SUMMARY.txt"
cat "$OUTDIR/SUMMARY.txt"
FAILED=$(grep -c '"status":"\(failed\|timeout\)"' "$STEPS" || true)
say "done: $FAILED step(s) failed or timed out; results in $OUTDIR"
[ "$FAILED" = 0 ]
