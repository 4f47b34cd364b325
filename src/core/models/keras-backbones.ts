/**
 * Backbones whose pretrained weights come as a Keras `.h5` (keras-applications' ImageNet files): the network is built
 * here with TF.js layers, the file's weights are set into it, and the result is handed on as TF.js model artifacts,
 * so the backbone cache, loadBackbone's resizing and the strategies treat it as any other pretrained backbone.
 */
import * as tf from '@tensorflow/tfjs';
import { buildXception, XCEPTION_SIZE } from './architectures/xception';
import { assignKerasWeights, readKerasWeights, type AssignReport } from './keras-h5';
import type { ZooEntry } from './zoo';

/** The network to fill, at its ImageNet size, and the file's layers it leaves out (a classifier top). */
const BUILDERS: Record<string, { build: () => tf.LayersModel; ignorable: string[] }> = {
  xception: { build: () => buildXception({ inputSize: XCEPTION_SIZE }), ignorable: ['predictions'] },
};

function builderOf(entry: ZooEntry) {
  const builder = BUILDERS[entry.id];
  if (!builder) throw new RangeError(`${entry.name} does not load Keras .h5 weights`);
  return builder;
}

async function artifactsOf(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
  return artifacts!;
}

/** Reads `bytes` (a `.h5` of `entry`'s network) into TF.js model artifacts; errors name what does not fit. */
export async function kerasH5Artifacts(entry: ZooEntry, bytes: ArrayBuffer, fileName: string): Promise<{ artifacts: tf.io.ModelArtifacts; report: AssignReport }> {
  const builder = builderOf(entry);
  const weights = readKerasWeights(bytes, fileName);
  const model = builder.build();
  try {
    const report = assignKerasWeights(model, weights, fileName, builder.ignorable);
    return { artifacts: await artifactsOf(model), report };
  } finally {
    model.dispose();
  }
}

/** The same network with its random initial weights, for what needs only its shapes (the memory estimate): no file read. */
export async function kerasH5InitialArtifacts(entry: ZooEntry): Promise<tf.io.ModelArtifacts> {
  const model = builderOf(entry).build();
  try {
    return await artifactsOf(model);
  } finally {
    model.dispose();
  }
}
