/** Builders of small datasets on disk for the data tests (temp folders; real images via sharp). */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CIFAR10_RECORD_BYTES, encodeImage } from '../../src/data/index.js';

export function tempDir(prefix = 'saln-data-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A w×h RGB image whose pixels encode (seed, x, y), so decoded images can be told apart. */
export function pattern(w: number, h: number, seed: number): Uint8Array {
  const px = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      px[o] = (seed * 40 + x * 7) & 255;
      px[o + 1] = (seed * 90 + y * 5) & 255;
      px[o + 2] = (seed * 13 + x + y) & 255;
    }
  }
  return px;
}

export async function writeImage(path: string, w: number, h: number, seed: number, format: 'png' | 'jpeg' | 'webp' = 'png'): Promise<Uint8Array> {
  mkdirSync(dirname(path), { recursive: true });
  const px = pattern(w, h, seed);
  writeFileSync(path, await encodeImage(px, { width: w, height: h, channels: 3 }, format, { quality: 95 }));
  return px;
}

/**
 * A binary CIFAR-10 folder with `perFile` records in each of data_batch_1..5.bin and test_batch.bin.
 * Record r of file f has label (f + r) % 10 and pixel bytes R = r, G = f, B = 255 − position/12.
 */
export function writeCifarBinary(dir: string, perFile = 4): { train: Uint8Array[]; test: Uint8Array[] } {
  const bin = join(dir, 'cifar-10-batches-bin');
  mkdirSync(bin, { recursive: true });
  const files = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
  const out: { train: Uint8Array[]; test: Uint8Array[] } = { train: [], test: [] };
  files.forEach((name, f) => {
    const buf = new Uint8Array(perFile * CIFAR10_RECORD_BYTES);
    for (let r = 0; r < perFile; r++) {
      const rec = buf.subarray(r * CIFAR10_RECORD_BYTES, (r + 1) * CIFAR10_RECORD_BYTES);
      rec[0] = (f + r) % 10;
      for (let i = 0; i < 1024; i++) {
        rec[1 + i] = r; // R plane
        rec[1 + 1024 + i] = f; // G plane
        rec[1 + 2048 + i] = 255 - Math.floor(i / 12); // B plane
      }
      (name === 'test_batch.bin' ? out.test : out.train).push(rec.slice());
    }
    writeFileSync(join(bin, name), buf);
  });
  writeFileSync(join(bin, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
  return out;
}

/** A tiny Oxford-IIIT Pet layout: 2 images each of 3 breeds (ids 1, 2, 3), 1 of each in test. */
export async function writePets(dir: string): Promise<void> {
  const breeds = [['Abyssinian', 1, 1], ['american_bulldog', 2, 2], ['Bengal', 3, 1]] as const;
  const trainval: string[] = [];
  const test: string[] = [];
  let seed = 0;
  for (const [b, id, species] of breeds) {
    for (const n of [1, 2, 3]) {
      await writeImage(join(dir, 'images', `${b}_${n}.jpg`), 24, 16, seed++, 'jpeg');
      (n === 3 ? test : trainval).push(`${b}_${n} ${id} ${species} 1`);
    }
  }
  mkdirSync(join(dir, 'annotations'), { recursive: true });
  writeFileSync(join(dir, 'annotations', 'trainval.txt'), `${trainval.join('\n')}\n`);
  writeFileSync(join(dir, 'annotations', 'test.txt'), `${test.join('\n')}\n`);
  writeFileSync(join(dir, 'annotations', 'list.txt'), `#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n${[...trainval, ...test].join('\n')}\n`);
}
