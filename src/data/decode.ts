/**
 * Image decoding and encoding: the only module in saln that imports sharp (libvips).
 *
 * Every decoded image comes out as 8-bit RGB, row-major HWC:
 * - grayscale becomes three equal channels, CMYK and other colour spaces are converted to sRGB;
 * - alpha is dropped without compositing, as PIL's `convert('RGB')` does;
 * - 16-bit images are reduced to 8 bits;
 * - EXIF orientation is NOT applied (PIL, hence torchvision, does not apply it either).
 */
import sharp from 'sharp';

// No libvips operation cache (we decode each file once) and one libvips thread per image: the
// prepare step runs several decodes at once on libuv's pool instead.
sharp.cache(false);
sharp.concurrency(1);

/** How an image is fitted to the fixed size of a prepared cache. */
export type ResizePolicy = 'squash' | 'crop';

export interface DecodeOptions {
  /** Output [height, width] (a number means square). Omitted: keep the image's own size. */
  size?: number | [number, number];
  /**
   * 'squash' (default): scale each axis to the size, ignoring aspect ratio (torchvision
   * `Resize((h, w))`). 'crop': scale so the image covers the size, then crop the centre
   * (`Resize(min(h, w))` + `CenterCrop((h, w))` for a square size).
   */
  resize?: ResizePolicy;
}

export interface DecodedImage {
  /** RGB bytes, HWC, row-major: height · width · 3 of them. */
  data: Uint8Array;
  width: number;
  height: number;
}

/** The resampling kernel of the cache's resize (libvips' antialiased triangle filter, akin to PIL's bilinear). */
export const RESIZE_KERNEL = 'linear';

/**
 * Decodes a JPEG, PNG, WebP (or anything else libvips reads) to RGB uint8. Rejects corrupt and
 * truncated files (libvips `fail` level 'error'), but tolerates warnings such as extraneous bytes
 * before a JPEG marker, which PIL also accepts.
 */
export async function decodeImage(input: Uint8Array | string, o: DecodeOptions = {}): Promise<DecodedImage> {
  let img = sharp(input, { failOn: 'error' }).removeAlpha().toColourspace('srgb');
  if (o.size !== undefined) {
    const [h, w] = typeof o.size === 'number' ? [o.size, o.size] : o.size;
    img = img.resize(w, h, { fit: o.resize === 'crop' ? 'cover' : 'fill', position: 'centre', kernel: RESIZE_KERNEL });
  }
  const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels instead of 3`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** Encodes raw pixels (HWC, 1–4 channels, uint8) to an image file's bytes: test fixtures, exports. */
export async function encodeImage(
  data: Uint8Array,
  shape: { width: number; height: number; channels: 1 | 2 | 3 | 4 },
  format: 'png' | 'jpeg' | 'webp',
  o: { quality?: number } = {},
): Promise<Buffer> {
  const img = sharp(data, { raw: { width: shape.width, height: shape.height, channels: shape.channels } });
  if (format === 'png') return img.png().toBuffer();
  if (format === 'webp') return img.webp({ quality: o.quality ?? 90 }).toBuffer();
  return img.jpeg({ quality: o.quality ?? 90 }).toBuffer();
}
