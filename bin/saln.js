#!/usr/bin/env node
// The `saln` command: a shim over the compiled CLI in dist/ (build it with `npm run build`).
let cli;
try {
  cli = await import('../dist/src/cli/main.js');
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw e;
  process.stderr.write('saln: the compiled CLI is missing (dist/src/cli/main.js): run `npm run build` first\n');
  process.exit(1);
}
// A reader that goes away (`saln train --help | head`) ends the output quietly, as SIGPIPE ends
// other Unix tools, instead of an unhandled EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
}
process.exitCode = await cli.main(process.argv.slice(2));
