/**
 * Image decoding for dataset import, run inside the engine's worker: one file in, `size`×`size` uint8 pixels out,
 * or a DecodeError whose reason and message can go straight into the import's "skipped" list.
 */

export type DecodeFailure = 'empty-file' | 'not-an-image' | 'corrupt' | 'too-large' | 'unsupported';

export class DecodeError extends Error {
  readonly reason: DecodeFailure;

  constructor(reason: DecodeFailure, message: string) {
    super(message);
    this.name = 'DecodeError';
    this.reason = reason;
  }
}

export interface DecodedImage {
  /** size*size*channels bytes, row-major, channels-last. */
  pixels: Uint8Array;
  size: number;
  channels: 1 | 3;
  /** As stored in the file, before any EXIF rotation. */
  sourceWidth: number;
  sourceHeight: number;
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

/** Enough for every header but a JPEG's, whose size sits after its metadata segments (EXIF can be 64 KiB). */
const HEAD_BYTES = 4096;

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

async function readBytes(blob: Blob, start: number, length: number): Promise<Uint8Array> {
  return new Uint8Array(await blob.slice(start, start + length).arrayBuffer());
}

/**
 * Source dimensions from the header. The resized ImageBitmap no longer knows them, and decoding once more at full
 * size just to ask would double the cost of every import and defeat the size check below.
 */
async function headerSize(type: ImageType, head: Uint8Array, blob: Blob): Promise<{ width: number; height: number } | null> {
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
      return jpegSize(head, blob);
  }
}

/** Walks the marker segments to the first start-of-frame; reads past the head only where metadata (EXIF, ICC) pushes it further. */
async function jpegSize(head: Uint8Array, blob: Blob): Promise<{ width: number; height: number } | null> {
  let pos = 2;
  while (pos + 4 <= blob.size) {
    const seg = pos + 9 <= head.length ? head.subarray(pos, pos + 9) : await readBytes(blob, pos, 9);
    if (seg.length < 4) return null;
    const marker = seg[1]!;
    // Stray bytes before a marker, and fill bytes (0xFF) within one, are skipped as libjpeg skips them: the browser
    // decodes such files, so they must not be called corrupt here.
    if (seg[0] !== 0xff || marker === 0xff) {
      pos += 1;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2; // markers without a length
      continue;
    }
    // SOF0..SOF15; C4, C8 and CC share the range but are Huffman tables, reserved and arithmetic conditioning.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return seg.length >= 9 ? { width: u16be(seg, 7), height: u16be(seg, 5) } : null;
    }
    if (marker === 0xda || marker === 0xd9) return null; // scan data or the end before any frame header
    pos += 2 + u16be(seg, 2);
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
  /** Always a Uint8Array, never the canvas's Uint8ClampedArray: one array type keeps the copy loop below monomorphic. */
  data: Uint8Array;
  red: number;
  blue: number;
  /** Hands a borrowed buffer back once the pixels have been copied out. */
  release?: () => void;
}

function drawPixels(bitmap: ImageBitmap, size: number): Pixels {
  const ctx = contextFor(size);
  ctx.drawImage(bitmap, 0, 0);
  const { data } = ctx.getImageData(0, 0, size, size);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), red: 0, blue: 2 };
}

/** 4-byte pixels in either byte order → RGB or luminance, in a fresh buffer the caller keeps. */
function dropAlpha({ data, red, blue }: Pixels, count: number, channels: 1 | 3): Uint8Array {
  const pixels = new Uint8Array(count * channels);
  if (channels === 3) {
    for (let s = 0, d = 0; d < pixels.length; s += 4, d += 3) {
      pixels[d] = data[s + red]!;
      pixels[d + 1] = data[s + 1]!;
      pixels[d + 2] = data[s + blue]!;
    }
  } else {
    for (let s = 0, d = 0; d < count; s += 4, d++) {
      pixels[d] = Math.round(0.299 * data[s + red]! + 0.587 * data[s + 1]! + 0.114 * data[s + blue]!);
    }
  }
  return pixels;
}

/** The 32-bit layouts a VideoFrame of a bitmap can have, with where red and blue sit. */
const FRAME_LAYOUTS: Partial<Record<VideoPixelFormat, { red: number; blue: number }>> = {
  BGRX: { red: 2, blue: 0 },
  BGRA: { red: 2, blue: 0 },
  RGBX: { red: 0, blue: 2 },
  RGBA: { red: 0, blue: 2 },
};

/** copyTo targets, reused: several decodes are in flight at once, so each borrows one for the length of its copy. */
const spareFrameBuffers: Uint8Array[] = [];

/**
 * The bitmap's pixels, copied as they are through a VideoFrame. This skips the canvas: drawImage plus getImageData
 * (a conversion and a fresh allocation per image) cost about half as much again as decoding a 224 px JPEG. Only for
 * opaque images, whose colour no premultiplication can touch, so the result is the canvas's byte for byte. Null where
 * the browser has no VideoFrame or gives a layout not handled here; the canvas then does it.
 */
async function copyOpaque(bitmap: ImageBitmap, size: number): Promise<Pixels | null> {
  if (typeof VideoFrame !== 'function') return null;
  const frame = new VideoFrame(bitmap, { timestamp: 0 });
  try {
    const layout = frame.format ? FRAME_LAYOUTS[frame.format] : undefined;
    const bytes = size * size * 4;
    if (!layout || frame.allocationSize() !== bytes) return null;
    const spare = spareFrameBuffers.findIndex((b) => b.length === bytes);
    const buffer = spare >= 0 ? spareFrameBuffers.splice(spare, 1)[0]! : new Uint8Array(bytes);
    await frame.copyTo(buffer);
    return { data: buffer, ...layout, release: () => spareFrameBuffers.push(buffer) };
  } finally {
    frame.close();
  }
}

/**
 * Decodes `blob` and stretches it to `size`×`size` (no cropping, no letterbox), dropping alpha. With `channels` 1 the
 * result is ITU-R 601 luminance; with 3, grey images come out as R=G=B.
 */
export async function decodeImage(blob: Blob, size: number, channels: 1 | 3, bytes?: Uint8Array): Promise<DecodedImage> {
  if (blob.size === 0) throw new DecodeError('empty-file', 'empty file: it has 0 bytes');
  // The whole file, when the caller has it, serves as the head: reading a File again costs a round trip.
  const head = bytes ?? (await readBytes(blob, 0, HEAD_BYTES));
  const type = sniffImageType(head);
  if (!type) {
    const other = sniffUnsupported(head);
    if (other) throw new DecodeError('unsupported', `unsupported format: this is a ${other} file; convert it to PNG or JPEG`);
    throw new DecodeError('not-an-image', notAnImageMessage(head));
  }
  const name = TYPE_NAMES[type];
  const dims = await headerSize(type, head, blob);
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

  let bitmap: ImageBitmap;
  try {
    // The browser resizes while it still holds the decoded frame, so a huge image never reaches JS at full size.
    // No colour management, so pixel values are the file's own, as PIL reads them. Unpremultiplied alpha keeps the
    // colour of half-transparent pixels through the resize; fully transparent ones still come out black, because
    // the 2D canvas stores colour premultiplied (PIL's convert('RGB') would keep whatever colour the file stores).
    bitmap = await createImageBitmap(blob, {
      resizeWidth: size,
      resizeHeight: size,
      resizeQuality: 'high',
      imageOrientation: 'from-image',
      premultiplyAlpha: 'none',
      colorSpaceConversion: 'none',
    });
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new DecodeError('corrupt', `corrupt ${name}: the browser could not decode it (${detail})`);
  }

  let rgba: Pixels;
  try {
    rgba = (type === 'jpeg' ? await copyOpaque(bitmap, size) : null) ?? drawPixels(bitmap, size);
  } finally {
    bitmap.close();
  }

  const pixels = dropAlpha(rgba, size * size, channels);
  rgba.release?.();
  return { pixels, size, channels, sourceWidth: dims.width, sourceHeight: dims.height };
}
