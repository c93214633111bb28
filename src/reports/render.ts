/**
 * Vega-Lite spec → SVG (vega-lite's compiler, then a headless vega View that renders nothing
 * but can serialize to SVG) → PNG (resvg, with the system fonts loaded: without them resvg draws
 * no text at all). The only module that imports vega, vega-lite and resvg, and it loads them on
 * first use: `import 'saln'` should not pay for a chart library it may never call.
 */
import { createRequire } from 'node:module';
import type { TopLevelSpec } from 'vega-lite';
import { FONT } from './charts.js';

const require = createRequire(import.meta.url);

/** The chart as a standalone SVG document. */
export async function specToSvg(spec: TopLevelSpec): Promise<string> {
  const [{ parse, View }, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const vg = compile(spec).spec;
  const view = new View(parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterizes an SVG document to PNG bytes on white, at `scale` times its size (2: crisp on paper and HiDPI screens). */
export function svgToPng(svg: string, o: { scale?: number } = {}): Uint8Array {
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  const r = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: o.scale ?? 2 },
    font: { loadSystemFonts: true, defaultFontFamily: FONT, sansSerifFamily: FONT },
  });
  return r.render().asPng();
}

/** Width and height from a PNG's IHDR chunk; throws when the bytes are not a PNG. */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.length < 24 || sig.some((b, i) => png[i] !== b)) throw new Error('not a PNG (bad signature)');
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}
