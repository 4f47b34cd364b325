/**
 * Per-image pixel work of the import, done in the one pass that writes each image to its place: RGB (or luma) bytes
 * out, and on the way the per-channel sums (as imageChannelSums gives them) and the dHash (as dHash gives it). Over a
 * whole folder a pass over the pixels in JavaScript costs about as much as the browser's decode of a small JPEG, so
 * every pass saved counts.
 */
import { DHashRows, GREY_SCALE, ROW_WEIGHT, type PerceptualHash } from './duplicates';

export interface ImageDigest {
  phash: PerceptualHash;
  /** Per-channel sums of values and squares, in imageChannelSums' layout. */
  sums: Float64Array;
}

/** The word packing below puts the first byte in a word's low bits. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Writes an image row by row in the import's layout (uint8, channels-last, RGB or luma), digesting it on the way. */
export class PixelWriter {
  private readonly hash: DHashRows;
  private readonly sums: Float64Array;
  /** `out` as 32-bit words where its rows start on word boundaries: grey RGB rows are written 4 pixels to 3 words. */
  private readonly words: Uint32Array | null;
  private y = 0;

  /** @param out exactly width × height × channels bytes */
  constructor(
    private readonly out: Uint8Array,
    private readonly width: number,
    private readonly height: number,
    private readonly channels: 1 | 3,
  ) {
    if (out.length !== width * height * channels) throw new RangeError(`${out.length} bytes is not a ${width}×${height}×${channels} image`);
    this.hash = new DHashRows(width, height);
    this.sums = new Float64Array(2 * channels);
    const aligned = LITTLE_ENDIAN && channels === 3 && width % 4 === 0 && out.byteOffset % 4 === 0;
    this.words = aligned ? new Uint32Array(out.buffer, out.byteOffset, out.length / 4) : null;
  }

  private nextRow(): number {
    if (this.y >= this.height) throw new RangeError(`the image has only ${this.height} rows`);
    return this.y++;
  }

  /**
   * The next row from 4-byte pixels starting at `at` (green second; red and blue at the given offsets, the fourth byte
   * ignored). With one channel the row becomes ITU-R 601 luminance, rounded.
   */
  rgbxRow(src: Uint8Array, at: number, red: number, blue: number): void {
    const { out, width, sums, hash } = this;
    const { grey } = hash;
    const y = this.nextRow();
    // Row sums stay small integers (1024 × 255² < 2^31) that the JIT keeps in registers; the float64 totals stay exact.
    if (this.channels === 3) {
      let sr = 0, sg = 0, sb = 0, qr = 0, qg = 0, qb = 0; // prettier-ignore
      for (let x = 0, s = at, o = y * width * 3; x < width; x++, s += 4, o += 3) {
        const r = src[s + red];
        const g = src[s + 1];
        const b = src[s + blue];
        out[o] = r;
        out[o + 1] = g;
        out[o + 2] = b;
        sr += r;
        sg += g;
        sb += b;
        qr += r * r;
        qg += g * g;
        qb += b * b;
        grey[x] = 299 * r + 587 * g + 114 * b;
      }
      sums[0] += sr;
      sums[1] += sg;
      sums[2] += sb;
      sums[3] += qr;
      sums[4] += qg;
      sums[5] += qb;
    } else {
      let sv = 0;
      let qv = 0;
      for (let x = 0, s = at, o = y * width; x < width; x++, s += 4, o++) {
        const v = Math.round(0.299 * src[s + red] + 0.587 * src[s + 1] + 0.114 * src[s + blue]);
        out[o] = v;
        sv += v;
        qv += v * v;
        grey[x] = GREY_SCALE * v;
      }
      sums[0] += sv;
      sums[1] += qv;
    }
    hash.addRow();
  }

  /**
   * The next row of a grey image: one value every `step` bytes from `at` (a luma plane, or one channel of pixels
   * whose R, G and B are equal). Grey is what medical images mostly are, and a grey row costs a fraction of a colour
   * one: one load a pixel, its RGB stored four pixels to three words, and the hash's column sums added on the way.
   */
  greyRow(src: Uint8Array, at: number, step: number): void {
    const { out, width, sums, hash, words } = this;
    const y = this.nextRow();
    const target = hash.wholeRow();
    if (target < 0) {
      // A row across two grid rows of the hash (a few per image): the general way.
      const { grey } = hash;
      for (let x = 0, s = at; x < width; x++, s += step) grey[x] = GREY_SCALE * src[s];
      hash.addRow();
    }
    const { columns } = hash;
    const w = target < 0 ? 0 : ROW_WEIGHT * GREY_SCALE;
    let sv = 0;
    let qv = 0;
    if (words) {
      for (let x = 0, s = at, o = (y * width * 3) >> 2; x < width; x += 4, s += 4 * step, o += 3) {
        const a = src[s];
        const b = src[s + step];
        const c = src[s + 2 * step];
        const d = src[s + 3 * step];
        words[o] = a | (a << 8) | (a << 16) | (b << 24);
        words[o + 1] = b | (b << 8) | (c << 16) | (c << 24);
        words[o + 2] = c | (d << 8) | (d << 16) | (d << 24);
        sv += a + b + c + d;
        qv += a * a + b * b + c * c + d * d;
        if (w) {
          columns[target + x] += w * a;
          columns[target + x + 1] += w * b;
          columns[target + x + 2] += w * c;
          columns[target + x + 3] += w * d;
        }
      }
    } else {
      const rgb = this.channels === 3;
      for (let x = 0, s = at, o = y * width * this.channels; x < width; x++, s += step) {
        const v = src[s];
        out[o++] = v;
        if (rgb) {
          out[o++] = v;
          out[o++] = v;
        }
        sv += v;
        qv += v * v;
        if (w) columns[target + x] += w * v;
      }
    }
    if (target >= 0) hash.skipRow();
    // The luminance of R = G = B = v is v, so one channel and three sum alike.
    for (let c = 0; c < this.channels; c++) {
      sums[c] += sv;
      sums[this.channels + c] += qv;
    }
  }

  /** Every row from 4-byte pixels, rows packed one after another; `grey` when R = G = B is known. */
  rgbxImage(src: Uint8Array, red: number, blue: number, grey = false): ImageDigest {
    for (let y = 0; y < this.height; y++) {
      if (grey) this.greyRow(src, y * this.width * 4 + 1, 4);
      else this.rgbxRow(src, y * this.width * 4, red, blue);
    }
    return this.digest();
  }

  digest(): ImageDigest {
    if (this.y !== this.height) throw new RangeError(`${this.y} of the image's ${this.height} rows were written`);
    return { phash: this.hash.hash(), sums: this.sums };
  }
}

/** Where a plane starts in a buffer and how many bytes one of its rows takes (as VideoFrame.copyTo reports). */
export interface PlaneLayout {
  offset: number;
  stride: number;
}

/** Chroma subsampling as WebCodecs names its planar formats: 4:2:0, 4:2:2 and 4:4:4. */
export type YuvFormat = 'I420' | 'I422' | 'I444';

/** A YCbCr image as a JPEG decoder leaves it: full-size luma, and chroma planes subsampled as `format` says (sizes rounded up). */
export interface YuvImage {
  format: YuvFormat;
  data: Uint8Array;
  width: number;
  height: number;
  /** Y, Cb, Cr. */
  planes: readonly [PlaneLayout, PlaneLayout, PlaneLayout];
}

// libjpeg's YCbCr→RGB tables (jdcolor.c): 16-bit fixed point, the rounding half folded into the tables.
const FIX = (x: number) => Math.floor(x * 65536 + 0.5);
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (FIX(1.402) * x + 32768) >> 16;
  CB_B[i] = (FIX(1.772) * x + 32768) >> 16;
  CR_G[i] = -FIX(0.71414) * x;
  CB_G[i] = -FIX(0.34414) * x + 32768;
}

/**
 * Turns a YCbCr image into RGB exactly as libjpeg(-turbo) does when it decodes a JPEG to RGB, which is what the
 * browser's image decoding gives: "fancy" chroma upsampling (jdsample.c's triangle filters; at the top and bottom
 * the nearest row stands in for the missing one) and jdcolor.c's fixed-point conversion. The browser's own YUV→RGB
 * conversion of a VideoFrame rounds differently, so it is not used.
 */
export class YuvToRgb {
  private readonly cb: Int32Array;
  private readonly cr: Int32Array;
  private readonly chromaWidth: number;
  private readonly chromaHeight: number;

  constructor(private readonly image: YuvImage) {
    const { format, width, height } = image;
    this.chromaWidth = format === 'I444' ? width : (width + 1) >> 1;
    this.chromaHeight = format === 'I420' ? (height + 1) >> 1 : height;
    // The filters' first output pair reads two chroma columns; libjpeg would read a padding column past a one-column
    // plane, which the planes no longer hold.
    if (format !== 'I444' && this.chromaWidth < 2) throw new RangeError(`a subsampled image must be at least 3 pixels wide (got ${width})`);
    this.cb = new Int32Array(2 * this.chromaWidth);
    this.cr = new Int32Array(2 * this.chromaWidth);
  }

  /** Chroma plane `plane` upsampled to output row y's width. */
  private upsample(plane: PlaneLayout, y: number, to: Int32Array): void {
    const { data, format } = this.image;
    const n = this.chromaWidth;
    if (format === 'I444') {
      for (let c = 0, i = plane.offset + y * plane.stride; c < n; c++, i++) to[c] = data[i];
      return;
    }
    if (format === 'I422') {
      // h2v1_fancy_upsample: ¾ of the nearer sample, ¼ of the further one, rounding alternately down and up.
      const at = plane.offset + y * plane.stride;
      to[0] = data[at];
      to[1] = (data[at] * 3 + data[at + 1] + 2) >> 2;
      for (let c = 1; c < n - 1; c++) {
        const v = data[at + c] * 3;
        to[2 * c] = (v + data[at + c - 1] + 1) >> 2;
        to[2 * c + 1] = (v + data[at + c + 1] + 2) >> 2;
      }
      to[2 * n - 2] = (data[at + n - 1] * 3 + data[at + n - 2] + 1) >> 2;
      to[2 * n - 1] = data[at + n - 1];
      return;
    }
    // h2v2_fancy_upsample: the nearer chroma row weighs 3, the next nearer 1 (above for even output rows, below for
    // odd ones), then the same across columns.
    const row = y >> 1;
    const other = y & 1 ? Math.min(row + 1, this.chromaHeight - 1) : Math.max(row - 1, 0);
    const near = plane.offset + row * plane.stride;
    const far = plane.offset + other * plane.stride;
    let last = 0;
    let cur = data[near] * 3 + data[far];
    let next = data[near + 1] * 3 + data[far + 1];
    to[0] = (cur * 4 + 8) >> 4;
    to[1] = (cur * 3 + next + 7) >> 4;
    last = cur;
    cur = next;
    for (let c = 2; c < n; c++) {
      next = data[near + c] * 3 + data[far + c];
      to[2 * c - 2] = (cur * 3 + last + 8) >> 4;
      to[2 * c - 1] = (cur * 3 + next + 7) >> 4;
      last = cur;
      cur = next;
    }
    to[2 * n - 2] = (cur * 3 + last + 8) >> 4;
    to[2 * n - 1] = (cur * 4 + 7) >> 4;
  }

  /** Row y as RGBA (alpha 255) into `dst` at `at`; the clamped array does libjpeg's range limiting. */
  row(y: number, dst: Uint8ClampedArray, at: number): void {
    const { data, width, planes } = this.image;
    const { cb, cr } = this;
    this.upsample(planes[1], y, cb);
    this.upsample(planes[2], y, cr);
    for (let x = 0, p = planes[0].offset + y * planes[0].stride, o = at; x < width; x++, p++, o += 4) {
      const lum = data[p];
      const u = cb[x];
      const v = cr[x];
      dst[o] = lum + CR_R[v];
      dst[o + 1] = lum + ((CB_G[u] + CR_G[v]) >> 16);
      dst[o + 2] = lum + CB_B[u];
      dst[o + 3] = 255;
    }
  }

  /** The whole image as RGBA (alpha 255), for ImageData. */
  rgba(dst: Uint8ClampedArray): void {
    for (let y = 0; y < this.image.height; y++) this.row(y, dst, y * this.image.width * 4);
  }

  /**
   * True when both chroma planes hold only 128, i.e. the image is grey (as most JPEGs of scans saved in colour are):
   * then R = G = B = Y exactly, since the tables give 0 at 128 and every filter turns a constant into itself.
   */
  private greyOnly(): boolean {
    const { data, planes } = this.image;
    for (const plane of [planes[1], planes[2]]) {
      for (let r = 0; r < this.chromaHeight; r++) {
        for (let i = plane.offset + r * plane.stride, end = i + this.chromaWidth; i < end; i++) if (data[i] !== 128) return false;
      }
    }
    return true;
  }

  /** The whole image through a PixelWriter of the same size, a row at a time. */
  writeTo(writer: PixelWriter): ImageDigest {
    const { data, width, height, planes } = this.image;
    if (this.greyOnly()) {
      for (let y = 0; y < height; y++) writer.greyRow(data, planes[0].offset + y * planes[0].stride, 1);
      return writer.digest();
    }
    const row = new Uint8ClampedArray(width * 4);
    const bytes = new Uint8Array(row.buffer);
    for (let y = 0; y < height; y++) {
      this.row(y, row, 0);
      writer.rgbxRow(bytes, 0, 0, 2);
    }
    return writer.digest();
  }
}
