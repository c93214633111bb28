/** The real process when its reader goes away: `saln … --help | head` must not die with a stack trace. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers.js';

test('a closed stdout pipe ends the command quietly (exit 0, no EPIPE trace)', async () => {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'saln.js'), 'train', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Read nothing and close our end at once, as `head -0` would.
  child.stdout.destroy();
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 0, err);
  assert.doesNotMatch(err, /EPIPE|Unhandled/);
});
