/**
 * A pool of decoder workers for the import. Decoding is the browser's (off-thread already), but reading the pixels
 * back, the RGB conversion, the perceptual hash and the sums are JavaScript: on one thread they, not the decoding,
 * set the import's pace. Lanes spread that work over the machine's cores.
 */
import * as Comlink from 'comlink';
import type { ImageAnalyzer } from '../src/core/dataset/importer';
import type { AnalyzeLane } from './analyze.worker';

/** Batches each lane holds: one to work on while the next one's files are read. */
const BATCHES_PER_LANE = 2;

export function analyzerPool(size = Math.max(2, Math.min(8, navigator.hardwareConcurrency || 2))): ImageAnalyzer {
  const lanes = Array.from({ length: size }, () => ({
    api: Comlink.wrap<AnalyzeLane>(new Worker(new URL('./analyze.worker.ts', import.meta.url), { type: 'module', name: 'mri-studio-decoder' })),
    busy: 0,
  }));
  return {
    parallelism: size * BATCHES_PER_LANE,
    async analyze(files, imageSize, channels) {
      const lane = lanes.reduce((a, b) => (b.busy < a.busy ? b : a));
      lane.busy += 1;
      try {
        return await lane.api.analyze(files, imageSize, channels);
      } finally {
        lane.busy -= 1;
      }
    },
  };
}
