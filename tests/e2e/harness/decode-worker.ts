/** Test-only: decodes each posted blob with the worker code under test, in a real module Worker. */
import { DecodeError, decodeImage, resizeOptions } from '../../../workers/decode';
import type { DecodeRequest, DecodeResult } from './decode-harness';

/** The plain way, independent of the decoder under test: createImageBitmap of the file, read back through a canvas. */
async function bitmapDecode(blob: Blob, size: number, channels: 1 | 3): Promise<Uint8Array> {
  const bitmap = await createImageBitmap(blob, resizeOptions(size));
  const ctx = new OffscreenCanvas(size, size).getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, size, size).data;
  const out = new Uint8Array(size * size * channels);
  for (let p = 0; p < size * size; p++) {
    const [r, g, b] = [rgba[p * 4]!, rgba[p * 4 + 1]!, rgba[p * 4 + 2]!];
    if (channels === 3) out.set([r, g, b], p * 3);
    else out[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  return out;
}

self.onmessage = async (event: MessageEvent<DecodeRequest>) => {
  const { id, blob, size, channels, compare } = event.data;
  let result: DecodeResult;
  try {
    const image = await decodeImage(blob, size, channels);
    const mean = Array.from({ length: channels }, (_, c) => {
      let sum = 0;
      for (let i = c; i < image.pixels.length; i += channels) sum += image.pixels[i]!;
      return sum / (image.size * image.size);
    });
    result = {
      ok: true,
      size: image.size,
      channels: image.channels,
      mean,
      pixels: Array.from(image.pixels),
      length: image.pixels.length,
      sourceWidth: image.sourceWidth,
      sourceHeight: image.sourceHeight,
      via: image.via,
    };
    if (compare) {
      const plain = await bitmapDecode(blob, size, channels);
      result.differing = plain.reduce((n, v, i) => n + (v === image.pixels[i] ? 0 : 1), 0);
    }
  } catch (err) {
    // A plain Error here would mean decodeImage let a failure escape unclassified: the test should see that.
    result = err instanceof DecodeError ? { ok: false, reason: err.reason, message: err.message } : { ok: false, reason: 'unclassified', message: String(err) };
  }
  self.postMessage({ id, result });
};
