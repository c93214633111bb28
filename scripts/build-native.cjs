#!/usr/bin/env node
// Builds the addon with node-gyp against the running Node's own headers when it ships them
// (Debian's nodejs, official tarballs), so no header download is attempted (this machine is offline).
// LIBTORCH picks the libtorch to build against (native/libtorch-config.cjs).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const prefix = path.resolve(process.execPath, '..', '..');
const args = ['rebuild', '-j', 'max'];
if (!process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const r = spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit', cwd: path.resolve(__dirname, '..') });
if (r.status !== 0) {
  process.stderr.write('\nsaln: building the native addon failed. Check that libtorch is installed (Debian: apt-get install libtorch-dev)\n' +
    'or that LIBTORCH points at a folder with include/ and lib/, and that g++ and make are installed.\n');
  process.exit(r.status ?? 1);
}
