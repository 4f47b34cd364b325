import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURES, getArchitecture, inputSizeProblem } from '../../src/core/models/architectures/catalog';
import { buildArchitecture } from '../../src/core/models/architectures/builders';
import { PatchMerging, WindowAttention } from '../../src/core/models/architectures/layers';
import { modelFootprint } from '../../src/core/models/memory';
import { BUILTIN_ZOO } from '../../src/core/models/zoo';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const trainable = (m: tf.LayersModel) => modelFootprint(m).trainableParams;
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);

// torchvision's parameter counts with the 1000-class ImageNet head (DeiT's for ViT-S/16 and ViT-Ti/16).
const REFERENCE: Record<string, number> = {
  resnet18: 11_689_512,
  resnet50: 25_557_032,
  efficientnet_b0: 5_288_548,
  vit_b16: 86_567_656,
  vit_s16: 22_050_664,
  vit_ti16: 5_717_416,
  swin_t: 28_288_354,
  swin_s: 49_606_258,
};

describe('architecture parameter counts at 224 px and 1000 classes', () => {
  it.each(Object.keys(REFERENCE))('%s is within 1 % of the reference, and the zoo states its backbone exactly', (id) => {
    const arch = getArchitecture(id)!;
    const tensorsBefore = tf.memory().numTensors;
    const model = buildArchitecture(id, { imageSize: 224, channels: 3, numClasses: 1000, seed: 1 });
    try {
      const n = trainable(model);
      expect(Math.abs(n - REFERENCE[id]) / REFERENCE[id]).toBeLessThan(0.01);
      expect(BUILTIN_ZOO.entry(id).params).toBe(n - (arch.features * 1000 + 1000));
    } finally {
      model.dispose();
    }
    // Window attention's constants (offset one-hots, shift masks) go with the model.
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('states the tiny Swin configuration exactly too', () => {
    const model = buildArchitecture('swin_nano', { imageSize: 64, channels: 3, numClasses: 1000, seed: 1 });
    expect(BUILTIN_ZOO.entry('swin_nano').params).toBe(trainable(model) - (getArchitecture('swin_nano')!.features * 1000 + 1000));
    model.dispose();
  });
});

describe('input sizes', () => {
  it('refuses a size an architecture cannot take, naming sizes that work', () => {
    expect(inputSizeProblem(getArchitecture('swin_t')!, 224)).toBeNull();
    expect(inputSizeProblem(getArchitecture('swin_t')!, 256)).toMatch(/Swin-T cannot take 256 px images: .*7×7 windows; sizes that work nearby: .*224/);
    expect(inputSizeProblem(getArchitecture('vit_b16')!, 100)).toMatch(/cannot take 100 px images: the image must split into 16×16 patches; sizes that work nearby: 80, 96, 112 px$/);
    expect(inputSizeProblem(getArchitecture('resnet18')!, 16)).toMatch(/at least 32 px/);
    expect(inputSizeProblem(getArchitecture('swin_nano')!, 32)).toBeNull();
    expect(() => buildArchitecture('swin_s', { imageSize: 32, channels: 3, numClasses: 4, seed: 1 })).toThrow(RangeError);
  });

  it('builds every laptop-sized configuration at 32 px, for one or three channels', () => {
    for (const id of ['resnet18', 'efficientnet_b0', 'vit_ti16', 'swin_nano']) {
      for (const channels of [1, 3]) {
        const model = buildArchitecture(id, { imageSize: 32, channels, numClasses: 4, seed: 1 });
        expect(model.outputs[0].shape).toEqual([null, 4]);
        model.dispose();
      }
    }
  });
});

describe('custom layers', () => {
  it.each(['vit_ti16', 'swin_nano', 'efficientnet_b0'])('%s saves and reloads through its registered classes with the same outputs', async (id) => {
    const model = buildArchitecture(id, { imageSize: 32, channels: 3, numClasses: 3, seed: 7 });
    // A zero head would make every output equal; random head weights make the comparison mean something.
    const logits = model.getLayer('logits');
    tf.tidy(() => logits.setWeights(logits.getWeights().map((w) => tf.randomNormal(w.shape, 0, 0.5, 'float32', 3))));
    let saved: tf.io.ModelArtifacts | null = null;
    await model.save(tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const reloaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 11);
    const a = model.predict(x) as tf.Tensor;
    const b = reloaded.predict(x) as tf.Tensor;
    expect(tf.tidy(() => a.abs().max().dataSync()[0])).toBeGreaterThan(0);
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(reloaded.layers.map((l) => l.getClassName())).toEqual(model.layers.map((l) => l.getClassName()));
    tf.dispose([x, a, b]);
    model.dispose();
    reloaded.dispose();
  });

  it('window attention equals a token-by-token computation of shifted windows, bias and mask', () => {
    const [H, W, C, heads, win, shift] = [4, 4, 4, 2, 2, 1];
    const layer = new WindowAttention({ numHeads: heads, windowSize: win, shiftSize: shift, resolution: [H, W], seed: 5 });
    const qkv = tf.randomNormal([1, H * W, 3 * C], 0, 1, 'float32', 9);
    const out = layer.apply(qkv) as tf.Tensor;
    const x = qkv.arraySync() as number[][][];
    const table = layer.getWeights()[0].arraySync() as number[][];
    const d = C / heads;
    const span = 2 * win - 1;
    // In the shifted grid, token (Y, X) holds the image's token ((Y + s) mod H, (X + s) mod W); tokens wrapped around
    // the edge and tokens that were not are not neighbours and must not attend to each other.
    const source = (Y: number, X: number) => ((Y + shift) % H) * W + ((X + shift) % W);
    const wrapped = (Y: number, X: number) => [Y + shift >= H, X + shift >= W];
    const expected: number[][] = Array.from({ length: H * W }, () => new Array(C).fill(0));
    for (let wy = 0; wy < H / win; wy++) {
      for (let wx = 0; wx < W / win; wx++) {
        const cells = Array.from({ length: win * win }, (_, t) => [wy * win + Math.floor(t / win), wx * win + (t % win)]);
        for (let h = 0; h < heads; h++) {
          for (const [Yi, Xi] of cells) {
            const qi = x[0][source(Yi, Xi)].slice(h * d, h * d + d);
            const scores = cells.map(([Yj, Xj]) => {
              const kj = x[0][source(Yj, Xj)].slice(C + h * d, C + h * d + d);
              const dot = qi.reduce((s, q, k) => s + q * kj[k], 0) / Math.sqrt(d);
              const bias = table[(Yi - Yj + win - 1) * span + (Xi - Xj + win - 1)][h];
              const [ay, ax] = wrapped(Yi, Xi);
              const [by, bx] = wrapped(Yj, Xj);
              return dot + bias + (ay === by && ax === bx ? 0 : -100);
            });
            const m = Math.max(...scores);
            const e = scores.map((s) => Math.exp(s - m));
            const z = e.reduce((a, b) => a + b, 0);
            cells.forEach(([Yj, Xj], j) => {
              const vj = x[0][source(Yj, Xj)].slice(2 * C + h * d, 2 * C + h * d + d);
              for (let k = 0; k < d; k++) expected[source(Yi, Xi)][h * d + k] += (e[j] / z) * vj[k];
            });
          }
        }
      }
    }
    const diff = maxAbsDiff(out, tf.tensor3d([expected]));
    expect(diff).toBeLessThan(1e-5);
    tf.dispose([qkv, out]);
    layer.dispose();
  });

  it('patch merging concatenates each 2×2 group in torchvision order', () => {
    // Token (y, x) of a 4×4 grid with 1 channel holds 10·y + x.
    const x = tf.tensor3d([Array.from({ length: 16 }, (_, i) => [10 * Math.floor(i / 4) + (i % 4)])]);
    const out = new PatchMerging({ resolution: [4, 4] }).apply(x) as tf.Tensor;
    // Group (0, 1) covers rows 0–1, columns 2–3: (0,2), (1,2), (0,3), (1,3).
    expect((out.arraySync() as number[][][])[0][1]).toEqual([2, 12, 3, 13]);
    tf.dispose([x, out]);
  });
});

describe('catalog', () => {
  it('lists each architecture once, with its family', () => {
    expect(new Set(ARCHITECTURES.map((a) => a.id)).size).toBe(ARCHITECTURES.length);
    for (const a of ARCHITECTURES) expect(BUILTIN_ZOO.entry(a.id)).toMatchObject({ family: a.family, source: { kind: 'builtin' }, preprocessing: { scaling: 'dataset' } });
  });
});
