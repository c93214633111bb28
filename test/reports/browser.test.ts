/**
 * The report in a real browser: Debian's headless Chromium (driven by playwright-core; no
 * downloaded browser) opens index.html from real tiny runs and every chart must have rendered,
 * with no console or page errors.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { writeReport } from '../../src/reports/report.js';
import { recordsOf, tinyRuns } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'report-browser-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the report opens in headless Chromium: every chart is an SVG with marks, every PNG decodes, no console errors', async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`);
  const runs = await tinyRuns(join(dir, 'runs'), { methods: ['none', 'random', 'saln'], seeds: [0, 1], epochs: 2 });
  const res = await writeReport({ runs: recordsOf(runs), outDir: join(dir, 'report'), title: 'browser test' });
  assert.ok(res.charts.length >= 6, `charts: ${res.charts.map((c) => c.name).join(', ')}`);
  for (const c of res.charts) {
    const png = readFileSync(c.png);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${c.png}: PNG signature`);
    const meta = await sharp(png).metadata();
    assert.ok(meta.format === 'png' && meta.width! > 0 && meta.height! > 0, `${c.png} decodes`);
  }

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(res.indexPath).href, { waitUntil: 'load' });
    const figures = await page.$$eval('[data-chart]', (els) => els.map((el) => {
      const svg = el.querySelector('svg');
      const box = svg?.getBoundingClientRect();
      return {
        name: el.getAttribute('data-chart'),
        width: box?.width ?? 0,
        height: box?.height ?? 0,
        marks: svg ? svg.querySelectorAll('path, line, rect, circle').length : 0,
        drawn: svg ? [...svg.querySelectorAll('.role-mark path, .role-mark rect, .role-mark line')].filter((m) => { const b = (m as SVGGraphicsElement).getBBox(); return b.width > 0 || b.height > 0; }).length : 0,
        png: el.querySelector('a[href$=".png"]')?.getAttribute('href') ?? null,
      };
    }));
    assert.deepEqual(figures.map((f) => f.name).sort(), res.charts.map((c) => c.name).sort(), 'one figure per chart');
    for (const f of figures) {
      assert.ok(f.width > 0 && f.height > 0, `${f.name}: SVG has size ${f.width}x${f.height}`);
      assert.ok(f.marks > 0 && f.drawn > 0, `${f.name}: marks drawn (${f.drawn} of ${f.marks} elements)`);
      assert.equal(f.png, `${f.name}.png`);
    }
    assert.deepEqual(errors, [], 'no console or page errors');
    assert.deepEqual(requests.filter((u) => !u.startsWith('file:')), [], 'no network requests');
    const tables = await page.$$eval('table', (ts) => ts.length);
    assert.ok(tables >= 4, 'three tables per dataset and the run list');
  } finally {
    await browser.close();
  }
});
