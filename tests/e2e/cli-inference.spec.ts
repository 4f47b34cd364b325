import { expect, test } from '@playwright/test';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { demoImage } from '../../src/core/dataset/demo';
import { ONNX_INPUT, ONNX_OUTPUT } from '../../src/core/export/onnx';
import { PARITY_TOLERANCE } from '../../src/core/export/parity';
import { studio } from '../fixtures/cli';
import { rgbPng } from '../fixtures/png';

const SIZE = 16;

test('register (the gate, then an override), export to TF.js and ONNX, predict a folder into a CSV', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-cli-inference-'));
  // IndexedDB belongs to the origin: every command uses the same profile and port (offset from this checkout's test
  // port, as evaluate.spec.ts does, so that checkouts side by side do not collide).
  const common = ['--profile', join(dir, 'profile'), '--port', String(Number(process.env.STUDIO_TEST_PORT ?? 4173) + 1000)];
  const trained = studio('train', '--demo', '--epochs', '1', '--image-size', String(SIZE), '--per-class', '12', '--seed', '5', '--out', join(dir, 'run.json'), ...common);
  expect(trained.code, trained.stderr.join('\n')).toBe(0);
  const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  const accuracy = `${(run.best.valAccuracy * 100).toFixed(1)} %`;
  // One demo epoch stays far below the 85 % gate (a third of the images per class).
  expect(run.best.valAccuracy).toBeLessThan(0.85);

  const refused = studio('register', '--run', run.runId, '--name', 'demo', '--version', '1.0.0', ...common);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toEqual([`studio: E_CONFIG: validation accuracy ${accuracy} is below the 85.0 % threshold; give an override reason to register it anyway`]);
  const registered = studio('register', '--run', run.runId, '--name', 'demo', '--version', '1.0.0', '--alias', 'champion', '--tag', 'data=demo', '--description', 'CLI test', '--override-reason', 'demo data, one epoch', ...common);
  expect(registered.code, registered.stderr.join('\n')).toBe(0);
  expect(registered.stdout).toContain(`registered demo@1.0.0 (champion) from run ${run.runId}: validation accuracy ${accuracy.replace(' ', '')} on ${run.split.val} images; gate 85.0% overridden: demo data, one epoch`);

  const tfjs = studio('export', '--model', 'demo@1.0.0', '--format', 'tfjs', '--out', join(dir, 'tfjs'), ...common);
  expect(tfjs.code, tfjs.stderr.join('\n')).toBe(0);
  for (const f of ['model.json', 'group1-shard1of1.bin', 'metadata.json', 'MODEL_CARD.md']) expect(existsSync(join(dir, 'tfjs', f)), f).toBe(true);
  // The screening operating point the run's best epoch was fitted with travels in the metadata, by label.
  const meta = JSON.parse(readFileSync(join(dir, 'tfjs', 'metadata.json'), 'utf8'));
  expect(meta.operatingPoint).toMatchObject({ targetSensitivity: 0.95, validationImages: run.split.val, rule: expect.stringMatching(/^p = softmax\(logits\)/) });
  expect(Object.keys(meta.operatingPoint.thresholds)).toEqual(run.classes);
  const onnx = studio('export', '--model', 'demo@champion', '--format', 'onnx', '--out', join(dir, 'onnx'), ...common);
  expect(onnx.code, onnx.stderr.join('\n')).toBe(0);
  // A demo run's version is checked on the run's own phantoms, regenerated from its seed (no dataset is imported here).
  const parity = /ONNX parity: largest probability difference (\S+) on \d+ dataset images \(onnxruntime-web .*\), tolerance 0.0001: passed/.exec(onnx.stdout);
  expect(parity, onnx.stdout).not.toBeNull();
  expect(Number(parity![1])).toBeLessThanOrEqual(PARITY_TOLERANCE);
  // ONNX metadata_props: the thresholds as their own key (and in the whole record under mri_studio).
  expect(readFileSync(join(dir, 'onnx', 'model.onnx')).includes(Buffer.from(`operating_point_thresholds`))).toBe(true);
  console.log(onnx.stdout.trim().split('\n').at(-1));

  // A folder of PNGs at the model's input size (so decoding gives the pixels exactly), one corrupt file, one nested.
  const images = join(dir, 'scans');
  mkdirSync(join(images, 'more'), { recursive: true });
  const pixels = new Map<string, Uint8Array>();
  for (let i = 0; i < 3; i++) {
    const name = i === 2 ? 'more/scan, 2.png' : `scan ${i}.png`;
    pixels.set(`scans/${name}`, demoImage(i, 700 + i, 11, SIZE));
    writeFileSync(join(images, name), rgbPng(pixels.get(`scans/${name}`)!, SIZE, SIZE));
  }
  writeFileSync(join(images, 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\n\x00\x01', 'latin1'));
  const out = join(dir, 'predictions.csv');
  const predicted = studio('predict', '--model', 'demo@champion', '--images', images, '--out', out, ...common);
  expect(predicted.code, predicted.stderr.join('\n')).toBe(0);
  expect(predicted.stdout).toContain('scans/broken.png: corrupt PNG: its header is cut short or damaged, so it has no image size');
  expect(predicted.stdout).toMatch(/classified 3 of 4 images with demo@1\.0\.0 on \w+; median latency [\d.]+ ms; 1 could not be read/);

  const [header, ...rows] = readFileSync(out, 'utf8').trimEnd().split('\r\n');
  expect(header).toBe(`file,top_class,operating_point_class,${run.classes.join(',')},latency_ms,error`);
  expect(rows).toHaveLength(4);
  const broken = `scans/broken.png,${','.repeat(run.classes.length + 3)}"corrupt: corrupt PNG: its header is cut short or damaged, so it has no image size"`;
  expect(rows).toContain(broken);
  // The good rows end with an empty error field; a file name with a comma is quoted.
  const parsed = rows.filter((r) => r !== broken).map((r) => {
    const file = r.startsWith('"') ? r.slice(1, r.indexOf('",')) : r.slice(0, r.indexOf(','));
    return { file, fields: r.slice(r.indexOf(file) + file.length + (r.startsWith('"') ? 2 : 1)).split(',') };
  });
  expect(parsed.map((p) => p.file).sort()).toEqual(['scans/more/scan, 2.png', 'scans/scan 0.png', 'scans/scan 1.png']);
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(join(dir, 'onnx', 'model.onnx'))));
  for (const { file, fields } of parsed) {
    expect(fields).toHaveLength(run.classes.length + 4);
    expect(fields.at(-1)).toBe('');
    const probs = fields.slice(2, 2 + run.classes.length).map(Number);
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(fields[0]).toBe(run.classes[probs.indexOf(Math.max(...probs))]);
    // The operating point's class: a firing class (p ≥ its threshold) with the highest p / t, else the top class.
    const t = run.classes.map((c: string) => meta.operatingPoint.thresholds[c] as number | null);
    const firing = probs.map((p, k) => (t[k] !== null && p >= t[k]! ? p / t[k]! : 0));
    expect(fields[1]).toBe(Math.max(...firing) > 0 ? run.classes[firing.indexOf(Math.max(...firing))] : fields[0]);
    expect(Number(fields[2 + run.classes.length])).toBeGreaterThan(0);
    // The exported ONNX file, in another runtime, on the same pixels, gives the studio's probabilities.
    const x = new ort.Tensor('float32', Float32Array.from(pixels.get(file)!), [1, SIZE, SIZE, 3]);
    const onnxProbs = (await session.run({ [ONNX_INPUT]: x }))[ONNX_OUTPUT].data as Float32Array;
    probs.forEach((p, j) => expect(Math.abs(p - onnxProbs[j])).toBeLessThanOrEqual(PARITY_TOLERANCE));
  }
  await session.release();

  for (const [args, message] of [
    [['predict', '--model', 'nope@1.0.0', '--images', images, '--out', out], 'studio: E_NOT_FOUND: no model named "nope" is registered'],
    [['predict', '--model', 'demo@2.0.0', '--images', images, '--out', out], 'studio: E_NOT_FOUND: demo@2.0.0 is not registered (demo has versions: 1.0.0)'],
    [['export', '--model', 'demo@production', '--format', 'onnx', '--out', join(dir, 'x')], 'studio: E_NOT_FOUND: demo@production is not registered (demo has aliases: champion)'],
  ] as const) {
    const r = studio(...args, ...common);
    expect(r.code, args.join(' ')).toBe(1);
    expect(r.stderr, args.join(' ')).toEqual([message]);
  }
});

test('register, export and predict refuse bad arguments before a browser starts', () => {
  for (const [args, reason] of [
    [['register', '--name', 'x', '--version', '1.0.0'], 'studio: register needs --run ID (see "runs")'],
    [['register', '--run', 'r', '--name', 'x', '--version', '1.0.0', '--override-reason', ' '], 'studio: --override-reason needs a reason, in words'],
    [['export', '--model', 'x@1.0.0', '--format', 'keras', '--out', '/tmp/x'], 'studio: --format must be one of tfjs, onnx (got "keras")'],
    [['predict', '--model', 'x@1.0.0', '--images', '/nonexistent/scans', '--out', '/tmp/p.csv'], 'studio: --images /nonexistent/scans: no such folder'],
  ] as const) {
    const r = studio(...args);
    expect(r.code, args.join(' ')).toBe(2);
    expect(r.stderr[0], args.join(' ')).toBe(reason);
  }
});
