/** Spec → SVG → PNG, with text actually drawn (resvg draws none without fonts), and SVG id scoping. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { FONT } from '../../src/reports/charts.js';
import { scopeSvgIds } from '../../src/reports/html.js';
import { pngSize, specToSvg, svgToPng } from '../../src/reports/render.js';

/** How many pixels of a PNG are not (near) white. */
async function inked(png: Uint8Array): Promise<number> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let i = 0; i < data.length; i += info.channels) if (data[i]! < 200 || data[i + 1]! < 200 || data[i + 2]! < 200) n++;
  return n;
}

test('a Vega-Lite spec renders to an SVG with marks and to a PNG twice its size', async () => {
  const svg = await specToSvg({ data: { values: [{ a: 'x', b: 1 }, { a: 'y', b: 3 }] }, mark: 'bar', width: 100, height: 80, encoding: { x: { field: 'a', type: 'nominal' }, y: { field: 'b', type: 'quantitative' } } });
  assert.match(svg, /^<svg /);
  assert.match(svg, /class="mark-rect role-mark/);
  const w = Number(/width="(\d+)"/.exec(svg)![1]);
  const png = svgToPng(svg);
  const size = pngSize(png);
  assert.equal(size.width, 2 * w);
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.width, meta.height], [size.width, size.height]);
  assert.ok(await inked(png) > 100, 'bars and axes are drawn');
  assert.throws(() => pngSize(new Uint8Array(30)), /not a PNG/);
});

test('text is rendered into the PNG (system fonts are loaded)', async () => {
  const doc = (text: string): string => `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="5" y="28" font-family="${FONT}" font-size="24" fill="black">${text}</text></svg>`;
  assert.equal(await inked(svgToPng(doc(''))), 0);
  assert.ok(await inked(svgToPng(doc('Accuracy'))) > 50, 'glyphs are drawn');
  // And vega's own text (axis titles) too: a chart with a long title has more ink than without.
  const chart = async (title: string) => inked(svgToPng(await specToSvg({ title, data: { values: [{ b: 1 }] }, mark: 'point', encoding: { x: { field: 'b', type: 'quantitative' } } })));
  assert.ok(await chart('A title with several words') > (await chart('')) + 50);
});

test('scopeSvgIds prefixes ids and their references only', () => {
  const svg = '<svg><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"><use href="#clip1"/><a href="#other"/></g></svg>';
  assert.equal(scopeSvgIds(svg, 'c-x'), '<svg><defs><clipPath id="c-x-clip1"><rect/></clipPath></defs><g clip-path="url(#c-x-clip1)"><use href="#c-x-clip1"/><a href="#other"/></g></svg>');
  assert.equal(scopeSvgIds('<svg/>', 'p'), '<svg/>');
});
