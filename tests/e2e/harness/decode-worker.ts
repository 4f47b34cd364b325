/** Test-only: decodes each posted blob with the worker code under test, in a real module Worker. */
import { DecodeError, decodeImage } from '../../../workers/decode';
import type { DecodeRequest, DecodeResult } from './decode-harness';

self.onmessage = async (event: MessageEvent<DecodeRequest>) => {
  const { id, blob, size, channels } = event.data;
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
    };
  } catch (err) {
    // A plain Error here would mean decodeImage let a failure escape unclassified: the test should see that.
    result = err instanceof DecodeError ? { ok: false, reason: err.reason, message: err.message } : { ok: false, reason: 'unclassified', message: String(err) };
  }
  self.postMessage({ id, result });
};
