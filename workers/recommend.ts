/**
 * The device half of the recommended recipe: the probes of src/core/train/probe.ts on the backends a run of the
 * recipe would use (features on the forward backend, the head on the training one). The decision itself is
 * src/core/train/recommend.ts, a pure function of the dataset's shape and these measurements.
 */
import { loadBackbone, type BackboneLoader } from '../src/core/models/backbone';
import { BUILTIN_ZOO } from '../src/core/models/zoo';
import { probeBackbone, probeHead } from '../src/core/train/probe';
import { RECOMMENDED_MODEL, type DeviceSpeed } from '../src/core/train/recommend';
import type { BackendName } from '../src/engine/types';
import { onBackend } from './backend';

export async function measureDeviceSpeed(load: BackboneLoader, routing: { forward: BackendName; train: BackendName }, numClasses: number, importImagesPerSecond?: number): Promise<DeviceSpeed> {
  const entry = BUILTIN_ZOO.entry(RECOMMENDED_MODEL);
  let dim = 0;
  const backboneImagesPerSecond = await onBackend(routing.forward, async () => {
    const { model, outputShape } = await loadBackbone(entry, { load });
    dim = outputShape[2];
    try {
      return await probeBackbone(model, entry.inputSize);
    } finally {
      model.dispose();
    }
  });
  const headStepsPerSecond = await onBackend(routing.train, () => probeHead(dim, numClasses));
  const backend = routing.forward === routing.train ? routing.forward : `${routing.forward} (features) and ${routing.train} (head)`;
  return { backend, backboneImagesPerSecond, headStepsPerSecond, ...(importImagesPerSecond ? { importImagesPerSecond } : {}) };
}
