#!/usr/bin/env node
// Prints one build setting for binding.gyp: where libtorch lives and how to compile against it.
// Search order (as tch-rs): $LIBTORCH (a folder with include/ and lib/, e.g. a libtorch zip or
// `python -c 'import torch;print(torch.__path__[0])'`), then Debian's libtorch-dev paths.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

function fail(msg) {
  process.stderr.write(`saln: cannot find libtorch: ${msg}\n` +
    'Possible solutions:\n' +
    '  - on Debian 12: apt-get install libtorch-dev\n' +
    '  - set LIBTORCH to a folder holding include/ and lib/ (a libtorch zip, or a pip torch install:\n' +
    "    LIBTORCH=$(python3 -c 'import torch;print(torch.__path__[0])'))\n");
  process.exit(1);
}

function locate() {
  const root = process.env.LIBTORCH;
  if (root) {
    const inc = path.join(root, 'include');
    const lib = path.join(root, 'lib');
    if (!fs.existsSync(path.join(inc, 'ATen', 'ATen.h'))) fail(`LIBTORCH=${root} has no include/ATen/ATen.h`);
    if (!fs.existsSync(path.join(lib, 'libtorch_cpu.so')) && !fs.existsSync(path.join(lib, 'libtorch.so'))) {
      fail(`LIBTORCH=${root} has no lib/libtorch_cpu.so`);
    }
    return { includes: [inc, path.join(inc, 'torch', 'csrc', 'api', 'include')], lib };
  }
  const inc = '/usr/include';
  const lib = '/usr/lib/x86_64-linux-gnu';
  if (!fs.existsSync(path.join(inc, 'ATen', 'ATen.h'))) fail('LIBTORCH is not set and /usr/include/ATen/ATen.h is missing');
  return { includes: [path.join(inc, 'torch', 'csrc', 'api', 'include')], lib };
}

// The C++ ABI must match the library's: pip wheels before 2.7 use the old ABI (0).
// SALN_CXX11_ABI (0 or 1) overrides, e.g. from python3 -c 'import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'.
function cxx11Abi(lib) {
  const forced = process.env.SALN_CXX11_ABI;
  if (forced === '0' || forced === '1') return forced;
  if (forced) fail(`SALN_CXX11_ABI=${forced}: expected 0 or 1`);
  const cmakeDirs = [path.join(lib, '..', 'share', 'cmake', 'Torch'), path.join(lib, 'cmake', 'Torch')];
  for (const d of cmakeDirs) {
    const f = path.join(d, 'TorchConfig.cmake');
    if (fs.existsSync(f)) {
      const m = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(fs.readFileSync(f, 'utf8'));
      if (m) return m[1];
    }
  }
  try {
    const syms = execFileSync('nm', ['-D', '--defined-only', path.join(lib, 'libc10.so')], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return /__cxx11/.test(syms) ? '1' : '0';
  } catch {
    return '1';
  }
}

// c10d (torch.distributed's C++ core) is built into libtorch_cpu where USE_DISTRIBUTED was on;
// compiling against ProcessGroupGloo.hpp also needs Gloo's headers (Debian: libgloo-dev).
function firstDirWith(dirs, file) {
  return dirs.find((d) => fs.existsSync(path.join(d, file)));
}
function distIncludes(includes) {
  const c10d = firstDirWith([...includes, '/usr/include'], path.join('torch', 'csrc', 'distributed', 'c10d', 'ProcessGroupGloo.hpp'));
  const gloo = firstDirWith([...includes, '/usr/include', '/usr/local/include'], path.join('gloo', 'algorithm.h'));
  return c10d && gloo ? [...new Set([c10d, gloo])] : null;
}
// ProcessGroupNCCL.hpp needs nccl.h and the CUDA runtime headers besides a CUDA libtorch.
function ncclIncludes(includes) {
  const cudaHome = process.env.CUDA_HOME || process.env.CUDA_PATH || '/usr/local/cuda';
  const nccl = firstDirWith([...includes, process.env.NCCL_INCLUDE_DIR, process.env.NCCL_HOME && path.join(process.env.NCCL_HOME, 'include'),
    path.join(cudaHome, 'include'), '/usr/include'].filter(Boolean), 'nccl.h');
  const cudart = firstDirWith([path.join(cudaHome, 'include'), '/usr/include'], 'cuda_runtime_api.h');
  return nccl && cudart ? [...new Set([nccl, cudart])] : null;
}

// The C++ standard: libtorch 2.14's headers refuse anything before C++20 (ATen/ATen.h:
// `#if !defined(_MSC_VER) && __cplusplus < 202002L #error C++20 or later ...`); earlier 2.x and
// 1.x build as C++17. Read from the headers themselves, so any libtorch that demands C++20 gets
// it; SALN_CXX_STD (c++17, c++20) overrides.
function cxxStd(includes) {
  const forced = process.env.SALN_CXX_STD;
  if (forced) {
    if (!/^(c|gnu)\+\+(17|20|23)$/.test(forced)) fail(`SALN_CXX_STD=${forced}: expected c++17, c++20 or c++23`);
    return forced;
  }
  for (const inc of includes) {
    for (const h of [['ATen', 'ATen.h'], ['torch', 'all.h'], ['torch', 'csrc', 'api', 'include', 'torch', 'all.h']]) {
      const f = path.join(inc, ...h);
      if (fs.existsSync(f) && /__cplusplus\s*<\s*202002L/.test(fs.readFileSync(f, 'utf8'))) return 'c++20';
    }
    // 2.13 moved its own build to C++20; from there on, C++20 for us too.
    for (const h of [['torch', 'version.h'], ['torch', 'csrc', 'api', 'include', 'torch', 'version.h']]) {
      const f = path.join(inc, ...h);
      if (!fs.existsSync(f)) continue;
      const v = fs.readFileSync(f, 'utf8');
      const major = Number(/TORCH_VERSION_MAJOR\s+(\d+)/.exec(v)?.[1] ?? 0);
      const minor = Number(/TORCH_VERSION_MINOR\s+(\d+)/.exec(v)?.[1] ?? 0);
      if (major > 2 || (major === 2 && minor >= 13)) return 'c++20';
    }
  }
  return 'c++17';
}

const { includes, lib } = locate();
const cuda = fs.existsSync(path.join(lib, 'libtorch_cuda.so'));
const what = process.argv[2];
if (what === 'includes') console.log(includes.join(' '));
else if (what === 'libdir') console.log(lib);
else if (what === 'abi') console.log(cxx11Abi(lib));
else if (what === 'std') console.log(cxxStd(process.env.LIBTORCH ? includes : [...includes, '/usr/include']));
else if (what === 'libs') {
  // --no-as-needed keeps libtorch_cuda linked although no symbol of it is named: loading it
  // registers the CUDA backend, which is what makes device 'cuda' work.
  const libs = ['-Wl,--no-as-needed', '-ltorch', '-ltorch_cpu', '-lc10'];
  if (cuda) libs.push('-ltorch_cuda', '-lc10_cuda');
  libs.push('-Wl,--as-needed');
  console.log(libs.join(' '));
} else if (what === 'dist') console.log(distIncludes(includes) ? 1 : 0);
else if (what === 'dist-includes') console.log((distIncludes(includes) ?? []).join(' '));
else if (what === 'nccl') console.log(cuda && distIncludes(includes) && ncclIncludes(includes) ? 1 : 0);
else if (what === 'nccl-includes') console.log((ncclIncludes(includes) ?? []).join(' '));
else fail(`unknown query ${what}`);
