/**
 * Image decoding for dataset import, run in the import's decoder workers: one file in, `size`×`size` uint8 pixels
 * (and their digest) out, or a DecodeError whose reason and message can go straight into the import's "skipped" list.
 */
import { PixelWriter, YuvToRgb, type ImageDigest } from '../src/core/dataset/pixels';

export type DecodeFailure = 'empty-file' | 'not-an-image' | 'corrupt' | 'too-large' | 'unsupported';

export class DecodeError extends Error {
  readonly reason: DecodeFailure;

  constructor(reason: DecodeFailure, message: string) {
    super(message);
    this.name = 'DecodeError';
    this.reason = reason;
  }
}

export type ImageType = 'jpeg' | 'png' | 'bmp' | 'webp' | 'gif';

const TYPE_NAMES: Record<ImageType, string> = { jpeg: 'JPEG', png: 'PNG', bmp: 'BMP', webp: 'WebP', gif: 'GIF' };
const ACCEPTED = 'JPEG/PNG/BMP/WebP/GIF';

/**
 * The browser decodes the whole frame as RGBA before it resizes, so an image's pixel count, not its file size, is
 * what can exhaust the worker's memory: a 2^28-pixel frame is already 1 GiB. Losing the worker would lose the
 * whole import, not one file.
 */
const MAX_SOURCE_PIXELS = 2 ** 28;

const startsWith = (bytes: Uint8Array, at: number, ascii: string): boolean =>
  bytes.length >= at + ascii.length && [...ascii].every((c, i) => bytes[at + i] === c.charCodeAt(0));

/** The file's format from its magic number; the name's extension is not trusted. */
export function sniffImageType(bytes: Uint8Array): ImageType | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (startsWith(bytes, 0, '\x89PNG\r\n\x1a\n')) return 'png';
  if (startsWith(bytes, 0, 'GIF87a') || startsWith(bytes, 0, 'GIF89a')) return 'gif';
  if (startsWith(bytes, 0, 'RIFF') && startsWith(bytes, 8, 'WEBP')) return 'webp';
  // "BM" alone is too weak (a text file may start with it), so the DIB header's size must be one that exists.
  if (startsWith(bytes, 0, 'BM') && bytes.length >= 18 && [12, 40, 52, 56, 64, 108, 124].includes(u32le(bytes, 14))) {
    return 'bmp';
  }
  return null;
}

/** Image formats people do put in dataset folders that the browser cannot decode: worth naming, not calling "not an image". */
function sniffUnsupported(bytes: Uint8Array): string | null {
  if (startsWith(bytes, 128, 'DICM')) return 'DICOM';
  if (startsWith(bytes, 0, 'II*\0') || startsWith(bytes, 0, 'MM\0*')) return 'TIFF';
  if (startsWith(bytes, 4, 'ftyp')) {
    const brand = String.fromCharCode(...bytes.subarray(8, 12));
    if (['heic', 'heix', 'mif1', 'msf1'].includes(brand)) return 'HEIC';
    if (['avif', 'avis'].includes(brand)) return 'AVIF';
  }
  if (startsWith(bytes, 4, 'jP  ')) return 'JPEG 2000';
  return null;
}

function u16be(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}
function u16le(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}
function u24le(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
}
function u32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}
function u32be(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/**
 * Source dimensions from the header. The resized ImageBitmap no longer knows them, and decoding once more at full
 * size just to ask would double the cost of every import and defeat the size check below.
 */
function headerSize(type: ImageType, head: Uint8Array): { width: number; height: number; components?: number } | null {
  switch (type) {
    case 'png':
      return head.length >= 24 && startsWith(head, 12, 'IHDR') ? { width: u32be(head, 16), height: u32be(head, 20) } : null;
    case 'gif':
      return head.length >= 10 ? { width: u16le(head, 6), height: u16le(head, 8) } : null;
    case 'bmp':
      if (u32le(head, 14) === 12) return head.length >= 22 ? { width: u16le(head, 18), height: u16le(head, 20) } : null;
      // A negative height marks a top-down bitmap.
      return head.length >= 26 ? { width: Math.abs(u32le(head, 18) | 0), height: Math.abs(u32le(head, 22) | 0) } : null;
    case 'webp':
      if (startsWith(head, 12, 'VP8 ') && head.length >= 30) {
        return { width: u16le(head, 26) & 0x3fff, height: u16le(head, 28) & 0x3fff };
      }
      if (startsWith(head, 12, 'VP8L') && head.length >= 25) {
        const bits = u32le(head, 21);
        return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
      }
      if (startsWith(head, 12, 'VP8X') && head.length >= 30) return { width: u24le(head, 24) + 1, height: u24le(head, 27) + 1 };
      return null;
    case 'jpeg':
      return jpegSize(head);
  }
}

/** Walks the marker segments to the first start-of-frame, past any metadata (EXIF, ICC) before it. */
function jpegSize(bytes: Uint8Array): { width: number; height: number; components: number } | null {
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    const marker = bytes[pos + 1]!;
    // Stray bytes before a marker, and fill bytes (0xFF) within one, are skipped as libjpeg skips them: the browser
    // decodes such files, so they must not be called corrupt here.
    if (bytes[pos] !== 0xff || marker === 0xff) {
      pos += 1;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2; // markers without a length
      continue;
    }
    // SOF0..SOF15; C4, C8 and CC share the range but are Huffman tables, reserved and arithmetic conditioning.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return pos + 10 <= bytes.length ? { width: u16be(bytes, pos + 7), height: u16be(bytes, pos + 5), components: bytes[pos + 9]! } : null;
    }
    if (marker === 0xda || marker === 0xd9) return null; // scan data or the end before any frame header
    pos += 2 + u16be(bytes, pos + 2);
  }
  return null;
}

function notAnImageMessage(head: Uint8Array): string {
  const start = head.subarray(0, 64);
  // UTF-8 text has no control bytes besides tab and line breaks; its multi-byte sequences are all >= 0x80.
  const isText = start.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b !== 0x7f));
  if (isText) {
    const firstLine = new TextDecoder().decode(start).split(/\r?\n/)[0]!.trim();
    const quote = firstLine.length > 40 ? `${firstLine.slice(0, 40)}…` : firstLine;
    return `not an image: the file starts with text ("${quote}"), not ${ACCEPTED} data`;
  }
  const hex = [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `not an image: the file starts with the bytes ${hex}, which are not ${ACCEPTED} data`;
}

/** One canvas per output size: creating a canvas and its 2D context for every file costs more than the decode of a small image. */
const contexts = new Map<number, OffscreenCanvasRenderingContext2D>();

function contextFor(size: number): OffscreenCanvasRenderingContext2D {
  let ctx = contexts.get(size);
  if (!ctx) {
    // willReadFrequently keeps the canvas in CPU memory, where getImageData is a copy instead of a GPU readback.
    const context = new OffscreenCanvas(size, size).getContext('2d', { willReadFrequently: true });
    if (!context) throw new Error('this browser gives no 2D context for an OffscreenCanvas; images cannot be decoded');
    // 'copy' replaces every pixel, so a transparent region never shows the previous image through.
    context.globalCompositeOperation = 'copy';
    contexts.set(size, context);
    ctx = context;
  }
  return ctx;
}

/** 4 bytes a pixel, green second; red and blue at these offsets within each pixel. */
interface Pixels {
  /** Always a Uint8Array, never the canvas's Uint8ClampedArray: one array type keeps the copy loops monomorphic. */
  data: Uint8Array;
  red: number;
  blue: number;
}

function drawPixels(bitmap: ImageBitmap, size: number): Pixels {
  const ctx = contextFor(size);
  ctx.drawImage(bitmap, 0, 0);
  const { data } = ctx.getImageData(0, 0, size, size);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), red: 0, blue: 2 };
}

/** The 32-bit layouts a decoded VideoFrame can have, with where red and blue sit. */
const FRAME_LAYOUTS: Partial<Record<VideoPixelFormat, { red: number; blue: number }>> = {
  BGRX: { red: 2, blue: 0 },
  BGRA: { red: 2, blue: 0 },
  RGBX: { red: 0, blue: 2 },
  RGBA: { red: 0, blue: 2 },
};

/** copyTo targets, reused: several decodes are in flight at once, so each borrows one for the length of its copy. */
const spareFrameBuffers: Uint8Array[] = [];

function borrowBuffer(bytes: number): Uint8Array {
  const spare = spareFrameBuffers.findIndex((b) => b.length === bytes);
  return spare >= 0 ? spareFrameBuffers.splice(spare, 1)[0]! : new Uint8Array(bytes);
}

function releaseBuffer(buffer: Uint8Array): void {
  spareFrameBuffers.push(buffer);
}

/** What the file says about itself: its format and size, or a DecodeError saying why it is no usable image. */
function inspect(head: Uint8Array): { type: ImageType; name: string; width: number; height: number; components?: number } {
  if (head.length === 0) throw new DecodeError('empty-file', 'empty file: it has 0 bytes');
  const type = sniffImageType(head);
  if (!type) {
    const other = sniffUnsupported(head);
    if (other) throw new DecodeError('unsupported', `unsupported format: this is a ${other} file; convert it to PNG or JPEG`);
    throw new DecodeError('not-an-image', notAnImageMessage(head));
  }
  const name = TYPE_NAMES[type];
  const dims = headerSize(type, head);
  if (!dims || dims.width === 0 || dims.height === 0) {
    throw new DecodeError('corrupt', `corrupt ${name}: its header is cut short or damaged, so it has no image size`);
  }
  if (dims.width * dims.height > MAX_SOURCE_PIXELS) {
    const mp = Math.round((dims.width * dims.height) / 1e6);
    throw new DecodeError(
      'too-large',
      `too large: ${dims.width}×${dims.height} ${name} is ${mp} megapixels, over the ${Math.round(MAX_SOURCE_PIXELS / 1e6)} megapixels that can be decoded safely`,
    );
  }
  return { type, name, ...dims };
}

/** The options both decoding paths resize with; they must agree for the two to give the same pixels. */
export function resizeOptions(size: number): ImageBitmapOptions {
  // The browser resizes while it still holds the decoded frame, so a huge image never reaches JS at full size.
  // No colour management, so pixel values are the file's own, as PIL reads them. Unpremultiplied alpha keeps the
  // colour of half-transparent pixels through the resize; fully transparent ones still come out black, because
  // the 2D canvas stores colour premultiplied (PIL's convert('RGB') would keep whatever colour the file stores).
  return { resizeWidth: size, resizeHeight: size, resizeQuality: 'high', imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' };
}

/**
 * A bitmap's pixels, through the canvas. (Not through a VideoFrame of the bitmap: that copies the frame as decoded,
 * unrotated, where the bitmap is turned by its EXIF orientation.)
 */
function bitmapPixels(bitmap: ImageBitmap, size: number): Pixels {
  try {
    return drawPixels(bitmap, size);
  } finally {
    bitmap.close();
  }
}

/** Whether this browser's WebCodecs ImageDecoder decodes JPEG (Chromium's does; not every browser has one). */
let jpegDecoding: Promise<boolean> | undefined;
function canDecodeJpeg(): Promise<boolean> {
  jpegDecoding ??= typeof ImageDecoder === 'function' ? ImageDecoder.isTypeSupported('image/jpeg').catch(() => false) : Promise.resolve(false);
  return jpegDecoding;
}

/** Beyond this the JPEG path saves little (the decode dominates) and would hold a second full-size copy. */
const JPEG_PATH_MAX_PIXELS = 2 ** 22;

/**
 * A JPEG decoded from the bytes already in memory by WebCodecs' ImageDecoder, where createImageBitmap(file) would
 * read the file from the browser process once more; the planes are converted as libjpeg converts them, so the pixels
 * are the bitmap path's, byte for byte. Null where that cannot be promised (a rotated or flipped frame, an unknown
 * layout, a browser without ImageDecoder) or the decoder fails: the bitmap path then decodes the file or says why not.
 */
async function decodeJpegBytes(bytes: Uint8Array, width: number, height: number, grey: boolean, size: number, channels: 1 | 3, out: Uint8Array): Promise<ImageDigest | null> {
  if (width * height > JPEG_PATH_MAX_PIXELS || !(await canDecodeJpeg())) return null;
  const decoder = new ImageDecoder({ data: bytes, type: 'image/jpeg', colorSpaceConversion: 'none', preferAnimation: false });
  let frame: VideoFrame & { rotation?: number; flip?: boolean };
  try {
    frame = (await decoder.decode()).image;
  } catch {
    return null;
  } finally {
    decoder.close();
  }
  try {
    const { format, visibleRect } = frame;
    // EXIF orientation comes as rotation and flip (absent in older browsers, which do not apply it at all).
    if (frame.rotation !== 0 || frame.flip !== false || !format || visibleRect?.width !== width || visibleRect.height !== height) return null;
    const yuv = format === 'I420' || format === 'I422' || format === 'I444';
    const rgbx = FRAME_LAYOUTS[format];
    if ((!yuv && !rgbx) || (yuv && format !== 'I444' && width < 3)) return null;
    const buffer = borrowBuffer(frame.allocationSize());
    try {
      const layout = await frame.copyTo(buffer);
      const image = yuv ? new YuvToRgb({ format, data: buffer, width, height, planes: [layout[0]!, layout[1]!, layout[2]!] }) : null;
      if (width === size && height === size) {
        const writer = new PixelWriter(out, size, size, channels);
        return image ? image.writeTo(writer) : writer.rgbxImage(buffer, rgbx!.red, rgbx!.blue, grey);
      }
      // Resized by the browser from an ImageData of the decoded pixels, as the bitmap path resizes its decoded frame.
      const data = new ImageData(width, height);
      if (image) image.rgba(data.data);
      else swizzleToRgba(buffer, rgbx!, data.data);
      const pixels = bitmapPixels(await createImageBitmap(data, resizeOptions(size)), size);
      return new PixelWriter(out, size, size, channels).rgbxImage(pixels.data, pixels.red, pixels.blue, grey);
    } finally {
      releaseBuffer(buffer);
    }
  } finally {
    frame.close();
  }
}

/** 4-byte pixels in either byte order → RGBA with alpha 255 (a JPEG is opaque whatever its fourth byte says). */
function swizzleToRgba(src: Uint8Array, { red, blue }: { red: number; blue: number }, dst: Uint8ClampedArray): void {
  for (let s = 0; s < dst.length; s += 4) {
    dst[s] = src[s + red]!;
    dst[s + 1] = src[s + 1]!;
    dst[s + 2] = src[s + blue]!;
    dst[s + 3] = 255;
  }
}

/** Huge images decode one at a time: each holds its full-size frame (4 bytes a pixel) while it is resized. */
const HUGE_PIXELS = 2 ** 24;
let hugeDecodes: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const result = hugeDecodes.then(work);
  hugeDecodes = result.catch(() => undefined);
  return result;
}

export interface DecodedInto extends ImageDigest {
  /** As stored in the file, before any EXIF rotation. */
  sourceWidth: number;
  sourceHeight: number;
  /** Which way it was decoded: from the bytes in memory (JPEG, ImageDecoder) or by createImageBitmap of the file. */
  via: 'memory' | 'bitmap';
}

/**
 * Decodes a file and stretches it to `size`×`size` (no cropping, no letterbox) into `out` (size × size × channels
 * bytes), dropping alpha, and digests the pixels on the way. With `channels` 1 the result is ITU-R 601 luminance;
 * with 3, grey images come out as R=G=B. `bytes` are the whole file.
 */
export async function decodeInto(blob: Blob, bytes: Uint8Array, size: number, channels: 1 | 3, out: Uint8Array): Promise<DecodedInto> {
  const { type, name, width, height, components } = inspect(bytes);
  const source = { sourceWidth: width, sourceHeight: height };
  // A one-component JPEG is grey: libjpeg replicates it into R, G and B.
  const grey = type === 'jpeg' && components === 1;
  const fast = type === 'jpeg' ? await decodeJpegBytes(bytes, width, height, grey, size, channels, out) : null;
  if (fast) return { ...fast, ...source, via: 'memory' };

  const decode = async () => {
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(blob, resizeOptions(size));
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new DecodeError('corrupt', `corrupt ${name}: the browser could not decode it (${detail})`);
    }
    const pixels = bitmapPixels(bitmap, size);
    return new PixelWriter(out, size, size, channels).rgbxImage(pixels.data, pixels.red, pixels.blue);
  };
  return { ...(await (width * height > HUGE_PIXELS ? oneAtATime(decode) : decode())), ...source, via: 'bitmap' };
}

export interface DecodedImage extends Pick<DecodedInto, 'sourceWidth' | 'sourceHeight' | 'via'> {
  /** size*size*channels bytes, row-major, channels-last. */
  pixels: Uint8Array;
  size: number;
  channels: 1 | 3;
}

/** decodeInto for one file on its own: reads it and gives its pixels a buffer of their own. */
export async function decodeImage(blob: Blob, size: number, channels: 1 | 3): Promise<DecodedImage> {
  const pixels = new Uint8Array(size * size * channels);
  const { sourceWidth, sourceHeight, via } = await decodeInto(blob, new Uint8Array(await blob.arrayBuffer()), size, channels, pixels);
  return { pixels, size, channels, sourceWidth, sourceHeight, via };
}
