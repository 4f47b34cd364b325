/// <reference lib="webworker" />
/** One lane of the import's decoder pool: decodes, hashes and sums a file off the engine's thread. */
import * as Comlink from 'comlink';
import { analyzeWith } from '../src/core/dataset/importer';
import { decodeImage } from './decode';

const analyze = analyzeWith(decodeImage);

export type LaneResult = Awaited<ReturnType<typeof analyze>> | { error: { reason?: string; message: string } };

const lane = {
  async analyze(file: Blob, size: number, channels: 1 | 3): Promise<LaneResult> {
    try {
      const a = await analyze(file, size, channels);
      // The pixels move to the engine without a copy.
      return Comlink.transfer(a, [a.pixels.buffer]);
    } catch (err) {
      // Returned, not thrown: comlink would drop the decoder's `reason`, which the skipped-file list shows.
      return { error: { reason: (err as { reason?: string }).reason, message: err instanceof Error ? err.message : String(err) } };
    }
  },
};

export type AnalyzeLane = typeof lane;
Comlink.expose(lane);
