/**
 * `saln tables DOC`: the results tables quoted in a Markdown document are rendered from their
 * results files (never typed by hand), `--check` names the stale ones, and BENCHMARKS.md's own
 * blocks match the committed results.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../cli-run.js';
import { repoRoot } from '../helpers.js';
import { blockBody, findBlocks, splitArgs } from '../../src/reports/doc-tables.js';
import { buildResults, writeResults } from '../../src/reports/results.js';
import { fakeRun } from '../reports/fixtures.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'saln-tables-'));
  mkdirSync(join(dir, 'results'));
  const runs = [0, 1].flatMap((seed) => [
    fakeRun({ id: 1 + seed, label: 'none', seed, test: 0.8, wall: 10 }),
    fakeRun({ id: 3 + seed, label: 'random', seed, ratio: 0.8, test: 0.7 + 0.02 * seed, wall: 4 }),
    fakeRun({ id: 5 + seed, label: 'saln', seed, ratio: 0.8, test: 0.72 + 0.01 * seed, wall: 5 }),
  ]);
  writeResults(join(dir, 'results', 'tiny.json'), buildResults('tiny', runs, 6));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const doc = (blocks: string): string => `# Results\n\nSome prose.\n\n${blocks}\nMore prose.\n`;

describe('saln tables', () => {
  it('fills every block with what saln results --markdown prints, headings left out; then it is up to date', async () => {
    const path = join(dir, 'doc.md');
    writeFileSync(path, doc("<!-- saln results results/tiny.json --label '^(none|saln)$' -->\nold table\n<!-- end saln results -->\n\n<!-- saln results results/tiny.json --pair saln,random -->\n<!-- end saln results -->\n"));
    const r = await runCli(['tables', path]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /rewrote 2 table block\(s\): .*doc\.md:5, .*doc\.md:9/);
    const text = readFileSync(path, 'utf8');
    const headline = (await runCli(['results', join(dir, 'results', 'tiny.json'), '--markdown', '--label', '^(none|saln)$'])).out;
    const pair = (await runCli(['results', join(dir, 'results', 'tiny.json'), '--markdown', '--pair', 'saln,random'])).out;
    assert.equal(text, doc(`<!-- saln results results/tiny.json --label '^(none|saln)$' -->\n${blockBody(headline)}\n<!-- end saln results -->\n\n<!-- saln results results/tiny.json --pair saln,random -->\n${blockBody(pair)}\n<!-- end saln results -->\n`));
    assert.match(text, /\n\| saln \| epochs \|/);
    assert.doesNotMatch(text, /\| random \| epochs \|/, '--label applies');
    assert.doesNotMatch(text, /### tiny/, 'headings are left out');
    assert.match(text, /\n\| saln \| random \| 0, 1 \| /);
    const again = await runCli(['tables', path]);
    assert.match(again.out, /every results table was up to date/);
    assert.equal(readFileSync(path, 'utf8'), text);
    assert.equal((await runCli(['tables', path, '--check'])).code, 0);
  });

  it('--check changes nothing and exits 1 naming the stale blocks', async () => {
    const path = join(dir, 'stale.md');
    writeFileSync(path, doc('<!-- saln results results/tiny.json -->\n<!-- end saln results -->\n'));
    assert.equal((await runCli(['tables', path])).code, 0);
    const edited = readFileSync(path, 'utf8').replace('| saln | epochs |', '| saln | epochs, by hand |');
    writeFileSync(path, edited);
    const r = await runCli(['tables', path, '--check']);
    assert.equal(r.code, 1);
    assert.match(r.err, /1 table block\(s\) differ from their results files: .*stale\.md:5; run `saln tables .*stale\.md` to rewrite them/);
    assert.equal(readFileSync(path, 'utf8'), edited, '--check writes nothing');
  });

  it('bad blocks are exit 2 naming the line, and the document is left as it was', async () => {
    const cases: [string, RegExp][] = [
      ['<!-- saln results results/tiny.json -->\n| x |\n', /bad\.md:8: this "<!-- saln results … -->" has no "<!-- end saln results -->"/],
      ['<!-- end saln results -->\n', /bad\.md:8: "<!-- end saln results -->" without an opening/],
      ['<!-- saln results results/missing.json -->\n<!-- end saln results -->\n', /bad\.md:8: saln results results\/missing\.json: .*missing\.json/],
      ['<!-- saln results results/tiny.json --pair saln -->\n<!-- end saln results -->\n', /bad\.md:8: saln results .*expected two entry labels separated by a comma/],
      ['<!-- saln results results/tiny.json --bogus -->\n<!-- end saln results -->\n', /bad\.md:8: saln results results\/tiny\.json --bogus: error: unknown option '--bogus'/],
      ["<!-- saln results results/tiny.json --label 'open -->\n<!-- end saln results -->\n", /bad\.md:8: unbalanced quote in the marker's arguments: 'open/],
    ];
    for (const [blocks, message] of cases) {
      const path = join(dir, 'bad.md');
      // A good block first: it is not written either when a later one is bad.
      const text = doc(`<!-- saln results results/tiny.json -->\n<!-- end saln results -->\n\n${blocks}`);
      writeFileSync(path, text);
      const r = await runCli(['tables', path]);
      assert.equal(r.code, 2, `${blocks}: ${r.err}`);
      assert.match(r.err, message);
      assert.equal(readFileSync(path, 'utf8'), text);
    }
    assert.match((await runCli(['tables', join(dir, 'nope.md')])).err, /cannot read .*nope\.md/);
  });

  it('parses markers: quoted arguments keep their spaces; blocks carry their lines', () => {
    assert.deepEqual(splitArgs(`results/a.json --label 'wall$|a b' --pair "x,y"`), ['results/a.json', '--label', 'wall$|a b', '--pair', 'x,y']);
    const blocks = findBlocks('x\n<!-- saln results a.json -->\n| t |\n<!-- end saln results -->\n<!--saln results b.json--pair a,b-->\n<!-- end saln results -->');
    assert.deepEqual(blocks.map((b) => [b.line, b.endLine, b.args, b.body]), [[2, 4, ['a.json'], '| t |'], [5, 6, ['b.json--pair', 'a,b'], '']]);
  });
});

describe('BENCHMARKS.md', () => {
  it('quotes the committed results files as they are (saln tables BENCHMARKS.md --check)', async () => {
    const r = await runCli(['tables', join(repoRoot, 'BENCHMARKS.md'), '--check']);
    assert.equal(r.code, 0, r.err);
  });
});
