/// <reference lib="webworker" />
/** One lane of the import's decoder pool: reads, hashes, decodes and digests a batch of files off the engine's thread. */
import * as Comlink from 'comlink';
import { analyzeWith, type AnalyzedBatch } from '../src/core/dataset/importer';
import { decodeInto } from './decode';

const analyzer = analyzeWith(decodeInto);

const lane = {
  async analyze(files: Blob[], size: number, channels: 1 | 3): Promise<AnalyzedBatch> {
    // Failures come back as items (comlink would drop a thrown decoder's `reason`, which the skipped-file list shows).
    const batch = await analyzer.analyze(files, size, channels);
    // The batch's pixels move to the engine in one buffer, without a copy.
    return Comlink.transfer(batch, [batch.pixels.buffer]);
  },
};

export type AnalyzeLane = typeof lane;
Comlink.expose(lane);
