import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import type { DecodeResult } from './harness/decode-harness';
import { useDevHarness } from '../fixtures/dev-harness';
import { largePng, withClaimedSize } from '../fixtures/png';

// decodeImage runs in a real module Worker in Chromium, on a test-only page served by its own Vite dev server: the
// built studio that the config's preview server serves has no page that exposes the worker's decode.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SIZE = 32;
const MIME: Record<string, string> = { jpg: 'image/jpeg', png: 'image/png', gif: 'image/gif', bmp: 'image/bmp', webp: 'image/webp' };

const harnessUrl = useDevHarness('decode-harness.html');

test.beforeEach(async ({ page }) => {
  await page.goto(harnessUrl());
  await page.waitForFunction(() => typeof window.decodeInWorker === 'function');
});

const fixture = (name: string) => readFileSync(`${ROOT}/tests/fixtures/bad-inputs/${name}`);

async function decode(page: Page, bytes: Buffer, name: string, channels: 1 | 3): Promise<DecodeResult> {
  // The declared type is the extension's, as a File from a folder would have: decoding must not trust it.
  const type = MIME[name.split('.').pop()!] ?? '';
  return page.evaluate(([b64, t, size, ch]) => window.decodeInWorker(b64, t, size, ch), [bytes.toString('base64'), type, SIZE, channels] as const);
}

type Decoded = Extract<DecodeResult, { ok: true }>;

async function decodeOk(page: Page, bytes: Buffer, name: string, channels: 1 | 3): Promise<Decoded> {
  const result = await decode(page, bytes, name, channels);
  if (!result.ok) throw new Error(`${name} did not decode: ${result.reason}: ${result.message}`);
  expect(result.size).toBe(SIZE);
  expect(result.channels).toBe(channels);
  expect(result.length).toBe(SIZE * SIZE * channels);
  return result;
}

const rgbAt = (d: Decoded, x: number, y: number) => d.pixels.slice((y * SIZE + x) * 3, (y * SIZE + x) * 3 + 3);

function expectClose(actual: number[], expected: number[], tolerance: number) {
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]!), `${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance));
}

function expectGrey(d: Decoded) {
  for (let i = 0; i < d.pixels.length; i += 3) {
    expect(d.pixels[i + 1]).toBe(d.pixels[i]);
    expect(d.pixels[i + 2]).toBe(d.pixels[i]);
  }
}

/** Decodes with 3 channels and with 1, and checks the 1-channel result is ITU-R 601 luminance of the 3-channel one. */
async function decodeBoth(page: Page, name: string, bytes: Buffer = fixture(name)): Promise<Decoded> {
  const rgb = await decodeOk(page, bytes, name, 3);
  const grey = await decodeOk(page, bytes, name, 1);
  for (let i = 0; i < SIZE * SIZE; i++) {
    const [r, g, b] = rgb.pixels.slice(i * 3, i * 3 + 3) as [number, number, number];
    expect(Math.abs(grey.pixels[i]! - (0.299 * r + 0.587 * g + 0.114 * b))).toBeLessThanOrEqual(0.5);
  }
  return rgb;
}

test('red|blue halves decode alike from BMP, lossless WebP and palette PNG, stretched from 24×16 to a square', async ({ page }) => {
  for (const name of ['red-blue.bmp', 'red-blue.webp', 'palette.png']) {
    const d = await decodeBoth(page, name);
    expect([d.sourceWidth, d.sourceHeight], name).toEqual([24, 16]);
    expect(rgbAt(d, 0, 0), name).toEqual([255, 0, 0]);
    expect(rgbAt(d, SIZE - 1, SIZE - 1), name).toEqual([0, 0, 255]);
    expectClose(d.mean, [127.5, 0, 127.5], 2);
  }
});

test('1-bit PNG: black left half, white right half', async ({ page }) => {
  const d = await decodeBoth(page, 'bilevel-1bit.png');
  expect([d.sourceWidth, d.sourceHeight]).toEqual([16, 16]);
  expectGrey(d);
  expect(rgbAt(d, 0, 5)).toEqual([0, 0, 0]);
  expect(rgbAt(d, SIZE - 1, 5)).toEqual([255, 255, 255]);
});

test('16-bit grey PNG decodes to 8-bit grey with R=G=B, dark at the top and light at the bottom', async ({ page }) => {
  const d = await decodeBoth(page, 'grey-16bit.png');
  expect([d.sourceWidth, d.sourceHeight]).toEqual([16, 16]);
  expectGrey(d);
  // The gradient runs from 20% grey (51) at the top to 80% (204) at the bottom.
  expectClose([rgbAt(d, 0, 0)[0]!, rgbAt(d, 0, SIZE - 1)[0]!], [51, 204], 6);
  expectClose(d.mean, [127.5, 127.5, 127.5], 3);
});

test('grey JPEG comes out as R=G=B', async ({ page }) => {
  const d = await decodeBoth(page, 'grey.jpg');
  expect([d.sourceWidth, d.sourceHeight]).toEqual([16, 16]);
  expectGrey(d);
  expect(rgbAt(d, 0, 0)[0]).toBeGreaterThan(230);
  expect(rgbAt(d, 0, SIZE - 1)[0]).toBeLessThan(25);
});

test('RGBA PNG: alpha is dropped; fully transparent pixels read back black, whatever colour the file stores', async ({ page }) => {
  const d = await decodeBoth(page, 'rgba-transparent.png');
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const [r, g, b] = rgbAt(d, x, y) as [number, number, number];
      // The file stores lime (0,255,0) under alpha 0. PIL's convert('RGB') would give lime there; the 2D canvas keeps
      // colour premultiplied, so alpha 0 leaves black.
      if (x < SIZE / 2 - 1) expect([r, g, b]).toEqual([255, 0, 0]);
      else if (x > SIZE / 2) expect([r, g, b]).toEqual([0, 0, 0]);
      // Resizing unpremultiplied colour mixes the stored lime into the two half-transparent boundary columns, as
      // resizing after PIL's convert('RGB') would.
      else expect(r + g).toBeGreaterThan(240);
      expect(b).toBe(0);
    }
  }
});

test('CMYK JPEG decodes to its RGB colour (red), not inverted', async ({ page }) => {
  const d = await decodeBoth(page, 'cmyk.jpg');
  expect([d.sourceWidth, d.sourceHeight]).toEqual([16, 16]);
  expectClose(d.mean, [255, 0, 0], 8);
});

test('animated GIF: the first frame (red), not the second (blue)', async ({ page }) => {
  const d = await decodeBoth(page, 'two-frames.gif');
  expect([d.sourceWidth, d.sourceHeight]).toEqual([8, 8]);
  expectClose(d.mean, [255, 0, 0], 1);
});

test('JPEG size is found past long metadata and stray bytes, as the browser still decodes such files', async ({ page }) => {
  const jpeg = fixture('grey.jpg');
  const comment = Buffer.alloc(4 + 20_000, 0x20);
  comment.set([0xff, 0xfe], 0);
  comment.writeUInt16BE(2 + 20_000, 2);
  // After SOI: a 20 kB comment segment (past the 4 KiB the decoder reads first), then two bytes that are no marker.
  const padded = Buffer.concat([jpeg.subarray(0, 2), comment, Buffer.from([0x00, 0x42]), jpeg.subarray(2)]);
  const d = await decodeBoth(page, 'padded.jpg', padded);
  expect([d.sourceWidth, d.sourceHeight]).toEqual([16, 16]);
  expectGrey(d);
});

test('an 8000×8000 PNG is decoded and resized in the browser', async ({ page }) => {
  const png = largePng(8000, 8000);
  const d = await decodeBoth(page, 'large.png', png);
  expect([d.sourceWidth, d.sourceHeight]).toEqual([8000, 8000]);
  expectClose(rgbAt(d, 0, SIZE / 2), [0, 0, 255], 8);
  expectClose(rgbAt(d, SIZE - 1, SIZE / 2), [255, 0, 0], 8);
  expectClose(d.mean, [127.5, 0, 127.5], 2);
});

test.describe('a JPEG decoded from its bytes in memory has the pixels createImageBitmap gives, byte for byte', () => {
  // The in-memory path converts the decoder's YCbCr planes itself (as libjpeg does); anything it cannot promise to
  // convert exactly (a rotated frame, a one-column chroma plane) must go the bitmap way. See tests/fixtures/jpeg/README.md.
  const cases: { file: string; via: 'memory' | 'bitmap'; sizes: number[] }[] = [
    { file: 'jpeg/colour-420-48x48.jpg', via: 'memory', sizes: [48, 32, 13] },
    { file: 'jpeg/colour-420-41x27.jpg', via: 'memory', sizes: [32, 13] },
    { file: 'jpeg/colour-422-41x27.jpg', via: 'memory', sizes: [32] },
    { file: 'jpeg/colour-444-41x27.jpg', via: 'memory', sizes: [32] },
    { file: 'jpeg/colour-420-progressive.jpg', via: 'memory', sizes: [32] },
    { file: 'jpeg/grey-41x27.jpg', via: 'memory', sizes: [32] },
    { file: 'bad-inputs/grey.jpg', via: 'memory', sizes: [16, 32] },
    { file: 'bad-inputs/cmyk.jpg', via: 'memory', sizes: [16, 7] },
    { file: 'jpeg/colour-420-exif-rotated.jpg', via: 'bitmap', sizes: [32] },
    { file: 'jpeg/colour-420-2x5.jpg', via: 'bitmap', sizes: [8] },
  ];
  for (const c of cases) {
    test(`${c.file} (${c.via})`, async ({ page }) => {
      const bytes = readFileSync(`${ROOT}/tests/fixtures/${c.file}`).toString('base64');
      for (const size of c.sizes) {
        for (const channels of [3, 1] as const) {
          const result = await page.evaluate(([b64, s, ch]) => window.decodeInWorker(b64, 'image/jpeg', s, ch, true), [bytes, size, channels] as const);
          if (!result.ok) throw new Error(`${c.file} did not decode: ${result.reason}: ${result.message}`);
          expect(result.via, `${c.file} at ${size} px`).toBe(c.via);
          expect(result.differing, `${c.file} at ${size} px, ${channels} channel(s)`).toBe(0);
        }
      }
    });
  }

  test('a photo-like colour JPEG the browser itself encoded, at the size of the import and resized', async ({ page }) => {
    // Canvas JPEGs are 4:2:0: smooth colour gradients with noise exercise every chroma rounding case.
    const results = await page.evaluate(async () => {
      const canvas = new OffscreenCanvas(224, 224);
      const ctx = canvas.getContext('2d')!;
      const image = ctx.createImageData(224, 224);
      for (let i = 0; i < image.data.length; i += 4) {
        const p = i / 4;
        image.data.set([(p % 224) + ((p * 7919) % 31), (Math.floor(p / 224) * 1.1) % 256, (p * 13) % 256, 255], i);
      }
      ctx.putImageData(image, 0, 0);
      const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
      const b64 = btoa(String.fromCharCode(...new Uint8Array(await blob.arrayBuffer())));
      return Promise.all([224, 64].map((s) => window.decodeInWorker(b64, 'image/jpeg', s, 3, true)));
    });
    for (const result of results) {
      if (!result.ok) throw new Error(`did not decode: ${result.reason}: ${result.message}`);
      expect(result.via).toBe('memory');
      expect(result.differing).toBe(0);
    }
  });
});

test.describe('bad files fail with a reason and a message a person can act on', () => {
  const cases: { name: string; bytes?: () => Buffer; reason: string; message: RegExp }[] = [
    { name: 'empty.jpg', reason: 'empty-file', message: /^empty file: it has 0 bytes$/ },
    { name: 'text-as-jpg.jpg', reason: 'not-an-image', message: /^not an image: the file starts with text \("These are my notes.*not JPEG\/PNG\/BMP\/WebP\/GIF data$/ },
    { name: 'corrupt.jpg', reason: 'corrupt', message: /^corrupt JPEG: the browser could not decode it \(.+\)$/ },
    {
      name: 'huge.png',
      bytes: () => withClaimedSize(largePng(16, 16), 20000, 20000),
      reason: 'too-large',
      message: /^too large: 20000×20000 PNG is 400 megapixels/,
    },
    {
      name: 'scan.tif',
      bytes: () => Buffer.concat([Buffer.from('II*\0'), Buffer.alloc(60)]),
      reason: 'unsupported',
      message: /^unsupported format: this is a TIFF file; convert it to PNG or JPEG$/,
    },
    {
      name: 'noise.jpg',
      bytes: () => Buffer.from([0x00, 0x13, 0x37, 0x80, 0xfe, 0x01, 0x02, 0x03, 0x04]),
      reason: 'not-an-image',
      message: /^not an image: the file starts with the bytes 00 13 37 80 fe 01 02 03, which are not JPEG/,
    },
  ];
  for (const c of cases) {
    test(c.name, async ({ page }) => {
      for (const channels of [3, 1] as const) {
        const result = await decode(page, c.bytes?.() ?? fixture(c.name), c.name, channels);
        expect(result).toMatchObject({ ok: false, reason: c.reason });
        expect(result.ok ? '' : result.message).toMatch(c.message);
      }
    });
  }
});
