/**
 * The Node side of the GPU comparison (bench/gpu/run.sh): our core's MobileNetV2-0.35 (src/core: the pretrained
 * copy rebuilt at the chosen input size, a linear head, every layer trainable, as the `finetune` strategy builds it)
 * trained on WebGPU through Dawn (the `webgpu` npm package), on random images of a fixed batch. Prints and writes
 * images/s after warm-up steps (the first compiles the shaders). Each step reads its loss back, so a step is timed
 * to the end of its GPU work, as PyTorch's loss.item() does on the other side.
 *
 * With --compile-ahead the first step's shaders are compiled in parallel before it, as the studio's compileAhead does
 * (src/core/train/trainer.ts#compileStepAhead); `firstStepSeconds` includes that.
 *
 *   tsx bench/gpu/webgpu.ts [--batch 32] [--size 224] [--warmup 3] [--steps 50] [--seconds 180] [--classes 4]
 *                           [--compile-ahead] [--models DIR] [--out FILE.json]
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { create, globals } from 'webgpu';
import { loadBackbone } from '../../src/core/models/backbone';
import { modelFootprint } from '../../src/core/models/memory';
import { buildClassifier } from '../../src/core/models/strategies';
import { BUILTIN_ZOO } from '../../src/core/models/zoo';
import { isSoftwareAdapter } from '../../src/core/routing';
import { softmaxCrossEntropyWithOptions } from '../../src/core/train/losses';
import { compileOnWebGPU } from '../../src/core/train/compile-ahead';
import { createOptimizer } from '../../src/core/train/optimizers';
import { compileStepAhead } from '../../src/core/train/trainer';
import { folderHandler, PRETRAINED_DIR } from '../../tests/fixtures/pretrained';

const MODEL = 'mobilenet_v2_0.35_224';
const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '32' },
    size: { type: 'string', default: '224' },
    warmup: { type: 'string', default: '3' },
    steps: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '180' },
    classes: { type: 'string', default: '4' },
    models: { type: 'string', default: PRETRAINED_DIR },
    out: { type: 'string' },
    'compile-ahead': { type: 'boolean', default: false },
  },
});
const [batch, size, warmup, steps, seconds, classes] = (['batch', 'size', 'warmup', 'steps', 'seconds', 'classes'] as const).map((k) => {
  const n = Number(values[k]);
  if (!Number.isInteger(n) || n < (k === 'warmup' ? 0 : 1)) throw new Error(`--${k} must be a whole number (got "${values[k]}")`);
  return n;
});

// Dawn's WebGPU as the browser's. TF.js's WebGPU backend registers itself only if navigator.gpu exists when its
// module loads, hence the import after this.
Object.assign(globalThis, globals);
Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true });
await import('@tensorflow/tfjs-backend-webgpu');
const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) throw new Error('Dawn found no WebGPU adapter (no Vulkan driver? on NVIDIA: the nvidia Vulkan ICD must be installed)');
const { vendor, architecture, device, description } = adapter.info;
const software = isSoftwareAdapter([vendor, architecture, device, description]);
console.error(`webgpu: adapter ${[vendor, architecture, description || device].filter(Boolean).join(' / ')}${software ? ' (software)' : ''}`);
if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its WebGPU backend on Dawn');
await tf.ready();

const backbone = await loadBackbone(BUILTIN_ZOO.entry(MODEL), { load: (_url, entry) => folderHandler(join(resolve(values.models!), entry.id)) }, { inputSize: size });
const { model } = buildClassifier(backbone, { strategy: 'finetune', numClasses: classes, seed: 1 });
backbone.model.dispose();
const params = modelFootprint(model).trainableParams;
const optimizer = createOptimizer({ name: 'adam', learningRate: 1e-3 });
// Normalised images in [-1, 1] (MobileNet's scaling) and fixed labels: the step's cost does not depend on values.
const x = tf.randomUniform([batch, size, size, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % classes), 'int32'), classes) as tf.Tensor2D;

const lossOf = (opt: tf.Optimizer) => opt.minimize(() => softmaxCrossEntropyWithOptions(y, model.apply(x, { training: true }) as tf.Tensor2D), true)!;

async function step(): Promise<number> {
  const loss = lossOf(optimizer);
  const [v] = await loss.data();
  loss.dispose();
  return v;
}

console.error(`webgpu: ${MODEL} built at ${size} px, ${params} trainable parameters; warming up`);
const t0 = performance.now();
let programsCompiledAhead: number | null = null;
if (values['compile-ahead']) {
  const ahead = { compile: compileOnWebGPU, scratchOptimizer: () => createOptimizer({ name: 'adam', learningRate: 1e-3 }), onCompiled: (c: { programs: number }) => void (programsCompiledAhead = c.programs) };
  await compileStepAhead(ahead, model, (opt) => [lossOf(opt)]);
  console.error(`webgpu: ${programsCompiledAhead} shaders compiled ahead in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
let firstStepSeconds = NaN;
for (let i = 0; i < warmup; i++) {
  await step();
  if (i === 0) firstStepSeconds = (performance.now() - t0) / 1000;
  console.error(`webgpu: warm-up step ${i + 1}/${warmup} done at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
const warmupSeconds = (performance.now() - t0) / 1000;
const started = performance.now();
let timed = 0;
let lastLoss = NaN;
// Time-boxed: stop after --steps or --seconds of timed steps, whichever comes first.
while (timed < steps && (performance.now() - started) / 1000 < seconds) {
  lastLoss = await step();
  timed++;
}
const elapsed = (performance.now() - started) / 1000;
const result = {
  side: 'webgpu',
  framework: `TF.js ${tf.version.tfjs} (webgpu backend) on Dawn (npm webgpu), Node ${process.version}`,
  device: [vendor, architecture, description || device].filter(Boolean).join(' / '),
  software,
  model: `${MODEL} (src/core, pretrained weights, linear head, all layers trainable)`,
  params,
  batch,
  size,
  dtype: 'float32',
  optimizer: 'adam',
  warmupSteps: warmup,
  warmupSeconds,
  compileAhead: values['compile-ahead'],
  programsCompiledAhead,
  firstStepSeconds,
  steps: timed,
  seconds: elapsed,
  imagesPerSecond: (timed * batch) / elapsed,
  msPerStep: (elapsed / timed) * 1000,
  lastLoss,
};
tf.dispose([x, y]);
model.dispose();
optimizer.dispose();
console.log(JSON.stringify(result, null, 2));
if (values.out) writeFileSync(values.out, JSON.stringify(result, null, 2));
// Dawn keeps the process alive while its device exists.
process.exit(0);
