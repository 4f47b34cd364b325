import { describe, expect, it } from 'vitest';
import { dHash } from '../../src/core/dataset/duplicates';
import { PixelWriter, YuvToRgb, type YuvFormat, type YuvImage } from '../../src/core/dataset/pixels';
import { imageChannelSums } from '../../src/core/dataset/stats';
import { mulberry32 } from '../../src/core/random';

function randomBytes(n: number, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
}

/** 4-byte pixels with R = G = B (the fourth byte random, as a frame's X byte may be anything). */
function greyBytes(n: number, seed: number): Uint8Array {
  const px = randomBytes(n * 4, seed);
  for (let i = 0; i < px.length; i += 4) px[i] = px[i + 2] = px[i + 1];
  return px;
}

/** What the writer must produce: RGB in the right order, or rounded ITU-R 601 luminance. */
function expected(src: Uint8Array, count: number, red: number, blue: number, channels: 1 | 3): Uint8Array {
  const out = new Uint8Array(count * channels);
  for (let p = 0; p < count; p++) {
    const [r, g, b] = [src[p * 4 + red], src[p * 4 + 1], src[p * 4 + blue]];
    if (channels === 3) out.set([r, g, b], p * 3);
    else out[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  return out;
}

describe('PixelWriter', () => {
  // 64 wide is written 4 pixels to 3 words; 37 wide, and an image that starts off a word boundary, byte by byte.
  const shapes = [
    [64, 48],
    [37, 23],
    [9, 8],
  ] as const;

  for (const [w, h] of shapes) {
    for (const channels of [1, 3] as const) {
      it(`writes ${w}×${h}×${channels} from BGRX and RGBX, with the digest that dHash and imageChannelSums give`, () => {
        for (const [red, blue] of [
          [2, 0],
          [0, 2],
        ]) {
          const src = randomBytes(w * h * 4, w + h + red);
          const out = new Uint8Array(w * h * channels);
          const digest = new PixelWriter(out, w, h, channels).rgbxImage(src, red, blue);
          expect(out).toEqual(expected(src, w * h, red, blue, channels));
          expect(digest.phash).toEqual(dHash(out, w, h, channels));
          expect(digest.sums).toEqual(imageChannelSums(out, channels));
        }
      });

      it(`writes grey ${w}×${h}×${channels} rows the same way as colour rows, aligned or not`, () => {
        const src = greyBytes(w * h, w * h);
        const general = new Uint8Array(w * h * channels);
        const generalDigest = new PixelWriter(general, w, h, channels).rgbxImage(src, 2, 0);
        for (const shift of [0, 1]) {
          const buffer = new Uint8Array(w * h * channels + 4);
          const out = buffer.subarray(shift, shift + w * h * channels);
          const digest = new PixelWriter(out, w, h, channels).rgbxImage(src, 2, 0, true);
          expect(out).toEqual(general);
          expect(digest).toEqual(generalDigest);
        }
      });
    }
  }

  it('refuses a buffer of the wrong size and a wrong number of rows', () => {
    expect(() => new PixelWriter(new Uint8Array(10), 4, 4, 1)).toThrow(/is not a 4×4×1 image/);
    const writer = new PixelWriter(new Uint8Array(4 * 2 * 3), 4, 2, 3);
    writer.rgbxRow(new Uint8Array(16), 0, 0, 2);
    expect(() => writer.digest()).toThrow(/1 of the image's 2 rows/);
    writer.rgbxRow(new Uint8Array(16), 0, 0, 2);
    expect(() => writer.rgbxRow(new Uint8Array(16), 0, 0, 2)).toThrow(/only 2 rows/);
  });
});

/** A YCbCr image with planes packed one after another, chroma sized as `format` subsamples it. */
function yuv(format: YuvFormat, width: number, height: number, y: (x: number, r: number) => number, cb: (x: number, r: number) => number, cr: (x: number, r: number) => number): YuvImage {
  const cw = format === 'I444' ? width : Math.ceil(width / 2);
  const ch = format === 'I420' ? Math.ceil(height / 2) : height;
  const data = new Uint8Array(width * height + 2 * cw * ch);
  for (let r = 0; r < height; r++) for (let x = 0; x < width; x++) data[r * width + x] = y(x, r);
  for (let r = 0; r < ch; r++) {
    for (let x = 0; x < cw; x++) {
      data[width * height + r * cw + x] = cb(x, r);
      data[width * height + cw * ch + r * cw + x] = cr(x, r);
    }
  }
  return { format, data, width, height, planes: [{ offset: 0, stride: width }, { offset: width * height, stride: cw }, { offset: width * height + cw * ch, stride: cw }] };
}

const rgbaOf = (image: YuvImage) => {
  const out = new Uint8ClampedArray(image.width * image.height * 4);
  new YuvToRgb(image).rgba(out);
  return out;
};

describe('YuvToRgb', () => {
  it("converts with JFIF's YCbCr→RGB rounded as libjpeg rounds it", () => {
    // R = Y + 1.402 (Cr − 128), G = Y − 0.34414 (Cb − 128) − 0.71414 (Cr − 128), B = Y + 1.772 (Cb − 128).
    const px = rgbaOf(yuv('I444', 1, 1, () => 100, () => 128, () => 228));
    expect(Array.from(px)).toEqual([240, 29, 100, 255]);
    const blue = rgbaOf(yuv('I444', 1, 1, () => 60, () => 200, () => 110));
    // 60 + 1.402 × −18 = 34.8; 60 − 0.34414 × 72 + 0.71414 × 18 = 48.07; 60 + 1.772 × 72 = 187.6
    expect(Array.from(blue)).toEqual([35, 48, 188, 255]);
  });

  it('clamps to 0..255', () => {
    expect(Array.from(rgbaOf(yuv('I444', 1, 1, () => 250, () => 0, () => 255)))).toEqual([255, 203, 23, 255]);
    expect(Array.from(rgbaOf(yuv('I444', 1, 1, () => 5, () => 255, () => 0)))).toEqual([0, 53, 230, 255]);
  });

  it('upsamples 4:2:2 chroma with a ¾/¼ triangle filter, the edges repeating the outer sample', () => {
    // Cr of 128, 228, 128 across three chroma columns, Y and Cb neutral: R follows the upsampled Cr.
    const px = rgbaOf(yuv('I422', 6, 1, () => 128, () => 128, (x) => (x === 1 ? 228 : 128)));
    const red = Array.from({ length: 6 }, (_, x) => px[x * 4]);
    // Upsampled Cr: 128, (3·128 + 228 + 2) >> 2 = 153, (3·228 + 128 + 1) >> 2 = 203, 203, 153, 128.
    const r = (cr: number) => 128 + Math.floor((91881 * (cr - 128) + 32768) / 65536);
    expect(red).toEqual([128, 153, 203, 203, 153, 128].map(r));
  });

  it('upsamples 4:2:0 chroma with the 9-3-3-1 triangle filter, the top and bottom rows repeating', () => {
    // One Cr sample of 228 at chroma (1, 1) in a 3×3 chroma grid; the output row 2 (nearest chroma row 1, next nearest 0).
    const image = yuv('I420', 6, 6, () => 128, () => 128, (x, r) => (x === 1 && r === 1 ? 228 : 128));
    const px = rgbaOf(image);
    const rowOf = (y: number) => Array.from({ length: 6 }, (_, x) => px[(y * 6 + x) * 4]);
    const r = (cr: number) => 128 + Math.floor((91881 * (cr - 128) + 32768) / 65536);
    // Column sums (3·near + far) for row 2: 512, 812, 512; then (3·this + neighbour + 8 or 7) >> 4 across.
    const colsum = [512, 812, 512];
    const up = [(colsum[0] * 4 + 8) >> 4, (colsum[0] * 3 + colsum[1] + 7) >> 4, (colsum[1] * 3 + colsum[0] + 8) >> 4, (colsum[1] * 3 + colsum[2] + 7) >> 4, (colsum[2] * 3 + colsum[1] + 8) >> 4, (colsum[2] * 4 + 7) >> 4];
    expect(rowOf(2)).toEqual(up.map(r));
    // Row 0 has chroma row 0 both as its nearest and (repeated above the image) as its next nearest: no Cr there.
    expect(rowOf(0)).toEqual(Array(6).fill(128));
  });

  it('takes the grey shortcut only when all chroma is 128, with the same result as the full conversion', () => {
    for (const format of ['I420', 'I422', 'I444'] as const) {
      const rand = mulberry32(3);
      const luma = randomBytes(45 * 31, 5);
      for (const chroma of [() => 128, () => 126 + Math.floor(rand() * 5)]) {
        const image = yuv(format, 45, 31, (x, r) => luma[r * 45 + x], chroma, chroma);
        const rgba = rgbaOf(image);
        for (const channels of [1, 3] as const) {
          const out = new Uint8Array(45 * 31 * channels);
          const digest = new YuvToRgb(image).writeTo(new PixelWriter(out, 45, 31, channels));
          expect(out).toEqual(expected(new Uint8Array(rgba.buffer), 45 * 31, 0, 2, channels));
          expect(digest.sums).toEqual(imageChannelSums(out, channels));
          expect(digest.phash).toEqual(dHash(out, 45, 31, channels));
        }
      }
    }
  });

  it('refuses a subsampled image too narrow to upsample as libjpeg does', () => {
    expect(() => new YuvToRgb(yuv('I420', 2, 4, () => 0, () => 128, () => 128))).toThrow(/at least 3 pixels wide/);
    expect(() => new YuvToRgb(yuv('I444', 1, 1, () => 0, () => 128, () => 128))).not.toThrow();
  });
});
