/**
 * A pool of decoder workers for the import. Decoding is the browser's (off-thread already), but reading the pixels
 * back, the RGB conversion, the perceptual hash and the sums are JavaScript: on one thread they, not the decoding,
 * set the import's pace. Lanes spread that work over the machine's cores.
 */
import * as Comlink from 'comlink';
import type { AnalyzedImage, ImageAnalyzer } from '../src/core/dataset/importer';
import type { AnalyzeLane } from './analyze.worker';

export function analyzerPool(size = Math.max(2, Math.min(8, navigator.hardwareConcurrency || 2))): ImageAnalyzer {
  const lanes = Array.from({ length: size }, () => ({
    api: Comlink.wrap<AnalyzeLane>(new Worker(new URL('./analyze.worker.ts', import.meta.url), { type: 'module', name: 'mri-studio-decoder' })),
    busy: 0,
  }));
  return async (file, imageSize, channels): Promise<AnalyzedImage> => {
    const lane = lanes.reduce((a, b) => (b.busy < a.busy ? b : a));
    lane.busy += 1;
    try {
      const r = await lane.api.analyze(file, imageSize, channels);
      if ('error' in r) throw Object.assign(new Error(r.error.message), { reason: r.error.reason });
      return r;
    } finally {
      lane.busy -= 1;
    }
  };
}
