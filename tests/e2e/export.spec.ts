import * as tf from '@tensorflow/tfjs';
import { expect, test } from '@playwright/test';
import * as ort from 'onnxruntime-node';
import { describeModel } from '../../src/core/export/metadata';
import { ONNX_INPUT, ONNX_OUTPUT, readOnnxMetadata } from '../../src/core/export/onnx';
import { maxAbsDifference, PARITY_TOLERANCE } from '../../src/core/export/parity';
import { exportTfjs, importTfjs, unzipFiles } from '../../src/core/export/tfjs';
import { buildArchitecture } from '../../src/core/models/architectures/builders';
import { perturbArchitecture, probabilitiesOf, randomPixels } from '../fixtures/export';
import { useDevHarness } from '../fixtures/dev-harness';
import { phantomFolder } from '../fixtures/folders';
import type { HarnessExport } from './harness/export-harness';

// The engine worker in Chromium (WebGPU on SwiftShader) on a test-only page served by its own Vite dev server:
// the built studio has no registry UI yet, and window.studio does not reach the registry (see the harness).
const harnessUrl = useDevHarness('export-harness.html', { worker: { format: 'es' } });

const bytesOf = (exported: HarnessExport, name: string) => {
  const file = exported.files.find((f) => f.name === name);
  if (!file) throw new Error(`the export has no ${name}: ${exported.files.map((f) => f.name).join(', ')}`);
  return new Uint8Array(Buffer.from(file.base64, 'base64'));
};

test('a model trained on a folder with test-time mirroring is registered as brain-mri@1.0.0 (champion); its ONNX file, written in the browser with the mirror in the graph, passes parity in onnxruntime-web, and both downloads give the same probabilities in other runtimes', async ({ page }) => {
  const root = phantomFolder(['glioma', 'meningioma', 'pituitary'], 10);
  await page.goto(harnessUrl());
  await page.waitForFunction(() => window.exportHarness !== undefined);
  expect((await page.evaluate(() => window.exportHarness.init('auto'))).name).toBe('webgpu');
  await page.locator('#folder').setInputFiles(root);
  const summary = await page.evaluate(() => window.exportHarness.importFolder({ imageSize: 32, channels: 3, split: { train: 0.6, val: 0.2, test: 0.2 }, seed: 42, dedupe: 'keep-together' }));
  const run = await page.evaluate((fingerprint) => window.exportHarness.train({ dataset: { kind: 'folder', fingerprint }, model: 'simple_cnn', epochs: 2, batchSize: 8, learningRate: 0.003, seed: 1, tta: 'flip' }), summary.fingerprint);
  expect(run.status).toBe('completed');

  // Two epochs on phantoms need not reach 85 %: the override reason is recorded when the gate would refuse.
  const version = await page.evaluate((runId) => window.exportHarness.register({ runId, name: 'brain-mri', version: '1.0.0', aliases: ['champion'], tags: ['data=phantoms'], overrideReason: 'e2e: two epochs on phantoms' }), run.runId);
  expect(version).toMatchObject({ id: 'brain-mri@1.0.0', aliases: ['champion'], runId: run.runId, labels: ['glioma', 'meningioma', 'pituitary'] });
  expect(version.card).toContain('## Split protocol and leakage status');

  const onnxExport = await page.evaluate(() => window.exportHarness.exportModel('brain-mri@champion', 'onnx'));
  console.log(`in-browser ONNX parity: ${JSON.stringify(onnxExport.parity)}`);
  expect(onnxExport.parity).toMatchObject({ source: 'dataset', passed: true, tolerance: PARITY_TOLERANCE });
  expect(onnxExport.parity!.images).toBeGreaterThan(0);
  expect(onnxExport.parity!.maxDifference).toBeLessThanOrEqual(PARITY_TOLERANCE);
  const onnxBytes = bytesOf(onnxExport, 'model.onnx');
  expect(readOnnxMetadata(onnxBytes)).toMatchObject({ name: 'brain-mri', version: '1.0.0', labels: version.labels, inputSize: 32, tta: { kind: 'flip', bakedIn: true } });

  // Other runtimes: the TF.js download in Node's TF.js, the ONNX one in onnxruntime-node, on the same pixels.
  const tfjsExport = await page.evaluate(() => window.exportHarness.exportModel('brain-mri@champion', 'tfjs', { zip: true }));
  expect(tfjsExport.files.map((f) => f.name)).toEqual(['brain-mri-1.0.0-tfjs.zip']);
  await tf.setBackend('cpu');
  const { model, metadata } = await importTfjs(unzipFiles(bytesOf(tfjsExport, 'brain-mri-1.0.0-tfjs.zip')));
  expect(metadata.tta).toEqual({ kind: 'flip', bakedIn: false });
  const pixels = randomPixels(6, 32, 3, 9);
  const session = await ort.InferenceSession.create(onnxBytes);
  const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', pixels.dataSync() as Float32Array, pixels.shape) });
  const difference = maxAbsDifference(probabilitiesOf(model, pixels, metadata), out[ONNX_OUTPUT].data as Float32Array);
  console.log(`TF.js download (TF.js in Node, cpu backend) vs ONNX download (onnxruntime-node): max |Δp| = ${difference.toExponential(2)}`);
  expect(difference).toBeLessThanOrEqual(PARITY_TOLERANCE);
  await session.release();
  tf.dispose([pixels]);
  model.dispose();

  // The downloaded zip goes back into the registry as a new version.
  const reimported = await page.evaluate((files) => window.exportHarness.importModel(files, { name: 'brain-mri', version: '1.0.1', aliases: ['candidate'], overrideReason: 'e2e: re-import' }), tfjsExport.files);
  expect(reimported).toMatchObject({ id: 'brain-mri@1.0.1', runId: run.runId });
  expect((await page.evaluate(() => window.exportHarness.models())).map((v) => `${v.id}:${v.aliases.join(',')}`)).toEqual(['brain-mri@1.0.1:candidate', 'brain-mri@1.0.0:champion']);
});

// EfficientNet (swish, squeeze-and-excitation), ViT (layer norm, GELU, attention, class token) and Swin (shifted
// windows, relative position bias, patch merging): built and perturbed in Node, imported through the engine's
// registry like a downloaded model folder, then exported to ONNX in the worker, whose parity check runs
// onnxruntime-web in Chromium. Node's onnxruntime checks every architecture (export-onnx.test.ts); this proves
// the browser's runtime takes the same operators.
for (const id of ['efficientnet_b0', 'vit_ti16', 'swin_nano']) {
  test(`${id}: imported into the registry, exported to ONNX in the browser, passes parity in onnxruntime-web`, async ({ page }) => {
    await tf.setBackend('cpu');
    const model = buildArchitecture(id, { imageSize: 32, channels: 3, numClasses: 3, seed: 2 });
    perturbArchitecture(model, 4);
    const labels = ['glioma', 'meningioma', 'pituitary'];
    const metadata = describeModel({ modelId: id, strategy: 'scratch', labels, inputSize: 32, channels: 3, normalization: { mean: [0.2, 0.2, 0.2], std: [0.2, 0.2, 0.2] }, scaling: 'dataset', libraries: { tfjs: tf.version.tfjs } });
    const files = Object.entries(await exportTfjs(model, metadata)).map(([name, bytes]) => ({ name, base64: Buffer.from(bytes).toString('base64') }));
    model.dispose();

    await page.goto(harnessUrl());
    await page.waitForFunction(() => window.exportHarness !== undefined);
    await page.evaluate(() => window.exportHarness.init('auto'));
    const version = await page.evaluate((files) => window.exportHarness.importModel(files, { name: 'zoo', version: '1.0.0', overrideReason: 'e2e: untrained architecture' }), files);
    expect(version).toMatchObject({ id: 'zoo@1.0.0', labels });
    const onnxExport = await page.evaluate(() => window.exportHarness.exportModel('zoo@1.0.0', 'onnx'));
    console.log(`${id}: in-browser ONNX parity ${onnxExport.parity!.maxDifference.toExponential(2)} on ${onnxExport.parity!.images} images (${onnxExport.parity!.runtime})`);
    expect(onnxExport.parity).toMatchObject({ source: 'synthetic', passed: true, tolerance: PARITY_TOLERANCE });
    expect(onnxExport.parity!.maxDifference).toBeLessThanOrEqual(PARITY_TOLERANCE);
    // Probabilities far from uniform, or agreeing would prove little.
    expect(Math.max(...onnxExport.parity!.probabilities.flat())).toBeGreaterThan(1 / 3 + 0.05);
    expect(readOnnxMetadata(bytesOf(onnxExport, 'model.onnx'))).toMatchObject({ modelId: id, name: 'zoo', version: '1.0.0' });
  });
}
