/**
 * The PyTorch weights reader on hand-assembled files (no PyTorch needed; torch-parity.test.ts reads real ones): the
 * pickle opcodes torch.save writes, strided storages, safetensors' dtypes, the refusals, the cache round trip and
 * the blocks partial fine-tuning unfreezes.
 */
import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { zipSync } from 'fflate';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildArchitectureFeatures } from '../../src/core/models/architectures/builders';
import { estimateTrainingMemory, modelFootprint } from '../../src/core/models/memory';
import { buildClassifier, listBlocks } from '../../src/core/models/strategies';
import { sha256Hex, stateDictArtifacts, stateDictFromArtifacts, torchvisionBackbone } from '../../src/core/models/torch/backbone';
import { readCheckpoint } from '../../src/core/models/torch/checkpoint';
import { BUILTIN_ZOO } from '../../src/core/models/zoo';
import { idbBackboneCache } from '../../src/core/store/backbones';
import { openStudioDB } from '../../src/core/store/db';
import { loadTorchvisionState, type WeightsProgress } from '../../workers/torch-weights';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A protocol-2 pickle writer for the few values a state_dict holds. */
class Pickle {
  private readonly out: number[] = [0x80, 0x02];
  private bytes(...b: number[]) {
    this.out.push(...b);
    return this;
  }
  global(module: string, name: string) {
    return this.bytes(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    return this.bytes(0x58, b.length & 255, (b.length >> 8) & 255, 0, 0, ...b);
  }
  int(n: number) {
    return this.bytes(0x4b, n);
  }
  op(code: number) {
    return this.bytes(code);
  }
  tuple(...ints: number[]) {
    this.op(0x28);
    for (const n of ints) this.int(n);
    return this.op(0x74);
  }
  /** _rebuild_tensor_v2(storage 'key' of numel floats, offset, size, stride, False, OrderedDict()) */
  tensor(key: string, numel: number, offset: number, size: number[], stride: number[], storage = 'FloatStorage') {
    this.global('torch._utils', '_rebuild_tensor_v2').op(0x28);
    this.op(0x28).str('storage').global('torch', storage).str(key).str('cpu').int(numel).op(0x74).op(0x51);
    this.int(offset).tuple(...size).tuple(...stride).op(0x89);
    this.global('collections', 'OrderedDict').op(0x29).op(0x52);
    return this.op(0x74).op(0x52);
  }
  done() {
    return new Uint8Array([...this.op(0x2e).out]);
  }
}

const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);
const pth = (pkl: Uint8Array, storages: Record<string, Uint8Array> = {}) =>
  zipSync({ 'archive/data.pkl': pkl, 'archive/version': new TextEncoder().encode('3\n'), ...Object.fromEntries(Object.entries(storages).map(([k, v]) => [`archive/data/${k}`, v])) }, { level: 0 });

describe('.pth (torch.save zip)', () => {
  it('reads an OrderedDict of tensors, a transposed view and an integer buffer, with OrderedDict metadata', () => {
    const p = new Pickle().global('collections', 'OrderedDict').op(0x29).op(0x52).op(0x28);
    p.str('fc.weight').tensor('0', 6, 0, [2, 3], [3, 1]);
    // A transposed view of the same storage: element (i, j) at offset j·3 + i.
    p.str('fc.weight_t').tensor('0', 6, 0, [3, 2], [1, 3]);
    p.str('bn.num_batches_tracked').tensor('1', 1, 0, [], [], 'LongStorage');
    p.op(0x75);
    // BUILD with OrderedDict's _metadata, as state_dict() pickles it.
    p.op(0x7d).str('_metadata').global('collections', 'OrderedDict').op(0x29).op(0x52).op(0x73).op(0x62);
    const state = readCheckpoint(pth(p.done(), { '0': f32([1, 2, 3, 4, 5, 6]), '1': new Uint8Array(8) }));
    expect([...state.keys()]).toEqual(['fc.weight', 'fc.weight_t', 'bn.num_batches_tracked']);
    expect(state.get('fc.weight')).toEqual({ shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
    expect(state.get('fc.weight_t')).toEqual({ shape: [3, 2], data: new Float32Array([1, 4, 2, 5, 3, 6]) });
    expect(state.get('bn.num_batches_tracked')).toEqual({ shape: [], data: null });
  });

  it('refuses any other global by name, before anything is built from it', () => {
    const evil = new Pickle().global('os', 'system').str('echo hi').op(0x85).op(0x52).done();
    expect(() => readCheckpoint(pth(evil))).toThrow(/the \.pth file was refused: the file asks for os\.system, which a weights file has no use for/);
    const builtins = new Pickle().global('builtins', 'eval').done();
    expect(() => readCheckpoint(pth(builtins))).toThrow(/builtins\.eval/);
  });

  it('refuses opcodes a weights file does not use, and files that are no state_dict', () => {
    // INST (0x69) builds an instance from a class named inline.
    expect(() => readCheckpoint(pth(new Uint8Array([0x80, 0x02, 0x69, 0x2e])))).toThrow(/pickle opcode 0x69 at byte 2 is not one a weights file uses/);
    expect(() => readCheckpoint(pth(new Pickle().int(3).done()))).toThrow(/holds no dict of tensors \(save model\.state_dict\(\), not the model\)/);
    expect(() => readCheckpoint(zipSync({ 'x/other.txt': new Uint8Array(1) }))).toThrow(/has no data\.pkl/);
    expect(() => readCheckpoint(new Uint8Array([0x80, 0x02, 0x8a, 0x0a]))).toThrow(/PyTorch’s legacy format/);
    expect(() => readCheckpoint(new TextEncoder().encode('<html>not found</html>'))).toThrow(/neither a PyTorch \.pth \(zip\) nor a \.safetensors file/);
  });

  it('reports a storage shorter than its tensor', () => {
    const p = new Pickle().op(0x7d).str('w').tensor('0', 6, 0, [6], [1]).op(0x73).done();
    expect(() => readCheckpoint(pth(p, { '0': f32([1, 2]) }))).toThrow(/storage data\/0 holds 8 bytes, fewer than its 6 elements need/);
  });
});

function safetensors(tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }>): Uint8Array {
  let offset = 0;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  for (const [k, t] of Object.entries(tensors)) {
    header[k] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of Object.values(tensors)) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

describe('.safetensors', () => {
  it('reads F32, F16, BF16 and integer tensors', () => {
    const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3555]).buffer); // 1, −2, ≈1/3
    const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0x4049]).buffer); // 1, ≈3.14
    const state = readCheckpoint(
      safetensors({
        a: { dtype: 'F32', shape: [2], bytes: f32([0.5, -1.5]) },
        b: { dtype: 'F16', shape: [3], bytes: f16 },
        c: { dtype: 'BF16', shape: [2], bytes: bf16 },
        n: { dtype: 'I64', shape: [], bytes: new Uint8Array(8) },
      }),
    );
    expect(state.get('a')!.data).toEqual(new Float32Array([0.5, -1.5]));
    expect(Array.from(state.get('b')!.data!)).toEqual([1, -2, expect.closeTo(1 / 3, 3)]);
    expect(Array.from(state.get('c')!.data!)).toEqual([1, 3.140625]);
    expect(state.get('n')).toEqual({ shape: [], data: null });
  });

  it('names the tensor whose bytes do not match its shape', () => {
    expect(() => readCheckpoint(safetensors({ w: { dtype: 'F32', shape: [3], bytes: f32([1, 2]) } }))).toThrow(/tensor "w" claims bytes 0–8, which do not hold its \[3\] F32 values/);
    expect(() => readCheckpoint(safetensors({ w: { dtype: 'STR', shape: [1], bytes: new Uint8Array(4) } }))).toThrow(/tensor "w" has dtype "STR", which is not a number type/);
  });
});

describe('the backbone cache holds a state_dict in chunks', () => {
  it('round-trips the float tensors through IndexedDB and leaves integer buffers out', async () => {
    const db = await openStudioDB('torch-cache-test');
    const cache = idbBackboneCache(db, 16, undefined);
    const state = new Map([
      ['a', { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }],
      ['skip', { shape: [], data: null }],
      ['b', { shape: [5], data: new Float32Array([7, 8, 9, 10, 11, 12]).subarray(1) }],
    ]);
    await cache.put('resnet18_imagenet', stateDictArtifacts(state));
    expect(await db.count('backboneChunks')).toBe(3); // 44 bytes in chunks of 16
    const back = stateDictFromArtifacts((await cache.get('resnet18_imagenet'))!)!;
    expect([...back.keys()]).toEqual(['a', 'b']);
    expect(back.get('a')).toEqual({ shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
    expect(back.get('b')).toEqual({ shape: [5], data: new Float32Array([8, 9, 10, 11, 12]) });
    db.close();
  });
});

describe('the official URL', () => {
  const ORIGIN = 'http://127.0.0.1:4800';
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  /** The worker's fetch: the app server answers /models/… with its index page (no local copy); the official host with `file`. */
  function serve(file: Uint8Array) {
    const asked: string[] = [];
    vi.stubGlobal('self', { location: { origin: ORIGIN } });
    vi.stubGlobal('fetch', async (url: string) => {
      asked.push(url);
      if (url.startsWith(`${ORIGIN}/`)) return new Response('<!doctype html><title>MRI Studio</title>', { headers: { 'content-type': 'text/html' } });
      return new Response(file as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(file.length) } });
    });
    return asked;
  }

  const file = safetensors({ 'fc.weight': { dtype: 'F32', shape: [2, 3], bytes: f32([1, 2, 3, 4, 5, 6]) }, 'fc.bias': { dtype: 'F32', shape: [2], bytes: f32([-1, 1]) } });

  it('accepts a download whose SHA-256 starts with the prefix in its name, caches it, and loads it from the cache next time with no request', async () => {
    const db = await openStudioDB('torch-download-test');
    const prefix = (await sha256Hex(file)).slice(0, 8);
    const official = BUILTIN_ZOO.entry('resnet18_imagenet');
    // The same architecture at a URL named for this file's hash, as torchvision names each of its files.
    const url = `https://download.pytorch.org/models/resnet18-${prefix}.pth`;
    const entry = { ...official, source: { kind: 'torchvision' as const, architecture: 'resnet18', url, sha256: prefix } };
    const asked = serve(file);
    const progress: WeightsProgress[] = [];
    const state = await loadTorchvisionState(entry, db, (p) => progress.push(p));
    expect(asked).toEqual([`${ORIGIN}/models/resnet18_imagenet/resnet18-${prefix}.pth`, `${ORIGIN}/models/resnet18_imagenet/weights.pth`, `${ORIGIN}/models/resnet18_imagenet/weights.safetensors`, url]);
    expect(progress.at(-1)).toEqual({ model: 'resnet18_imagenet', loaded: file.length, total: file.length });
    expect(state.get('fc.weight')).toEqual({ shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
    expect(stateDictFromArtifacts((await idbBackboneCache(db).get('resnet18_imagenet'))!)!.get('fc.bias')).toEqual({ shape: [2], data: new Float32Array([-1, 1]) });

    asked.length = 0;
    const again = await loadTorchvisionState(entry, db);
    expect(asked).toEqual([]);
    expect([...again.keys()]).toEqual(['fc.weight', 'fc.bias']);
    expect(again.get('fc.weight')!.data).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]));
    db.close();
  });

  it("refuses a download whose SHA-256 is not EfficientNet-B0's 7f5810bc…, and caches nothing", async () => {
    const db = await openStudioDB('torch-download-refused-test');
    const entry = BUILTIN_ZOO.entry('efficientnet_b0_imagenet');
    const asked = serve(file);
    await expect(loadTorchvisionState(entry, db)).rejects.toMatchObject({
      code: 'E_BACKBONE',
      message: expect.stringContaining(`the downloaded file's SHA-256 starts ${(await sha256Hex(file)).slice(0, 8)}, not 7f5810bc as torchvision's file name says`),
    });
    expect(asked.at(-1)).toBe('https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth');
    expect(await idbBackboneCache(db).get('efficientnet_b0_imagenet')).toBeUndefined();
    db.close();
  });
});

describe('blocks for partial fine-tuning, in torchvision module names', () => {
  it.each([
    ['resnet18_imagenet', 64, ['stem', 'layer1', 'layer2', 'layer3', 'layer4']],
    ['efficientnet_b0_imagenet', 64, Array.from({ length: 9 }, (_, i) => `features.${i}`)],
    ['vit_b16_imagenet', 32, ['embedding', ...Array.from({ length: 12 }, (_, i) => `encoder.layers.${i}`)]],
    ['swin_t_imagenet', 224, ['patch embedding', 'stage 1', 'stage 2', 'stage 3', 'stage 4']],
  ] as const)('%s', (id, size, names) => {
    const entry = BUILTIN_ZOO.entry(id);
    const model = buildArchitectureFeatures(entry.source.kind === 'torchvision' ? entry.source.architecture : '', { imageSize: size, channels: 3, seed: 1 });
    try {
      const blocks = listBlocks(model, entry.family);
      expect(blocks.map((b) => b.name)).toEqual(names);
      // Every layer with weights is in a block; the final norm trains with the last one.
      expect(blocks.flatMap((b) => b.layers).length).toBe(model.layers.length - 1);
      if (entry.family === 'vit') expect(blocks.at(-1)!.layers).toContain('encoder_ln');
      if (entry.family === 'swin') expect(blocks.at(-1)!.layers).toEqual(expect.arrayContaining(['features_6_reduction', 'norm']));
    } finally {
      model.dispose();
    }
  });
});

describe('memory', () => {
  it("estimates ViT-B/16's 345 MB of ImageNet weights, frozen under a head or fine-tuned in its last block", () => {
    const backbone = torchvisionBackbone(BUILTIN_ZOO.entry('vit_b16_imagenet'), null, 224);
    const budget = { totalBytes: 8 * 2 ** 30, maxBufferBytes: 2 ** 30, source: 'test' };
    try {
      // Medical head 768→128→4: 98,948 weights; linear head 768→4: 3,076; ViT's last encoder layer 7,087,872 and its final LayerNorm 1,536.
      for (const [strategy, head, unfrozen] of [['medical', 98_948, 0], ['finetune', 3_076, 7_089_408]] as const) {
        const c = buildClassifier(backbone, { strategy, numClasses: 4, seed: 1, ...(strategy === 'finetune' ? { trainableBlocks: 1 } : {}) });
        try {
          const fp = modelFootprint(c.model);
          expect(fp.params).toBe(85_798_656 + head);
          expect(fp.trainableParams).toBe(head + unfrozen);
          const est = estimateTrainingMemory(fp, { batchSize: 16, optimizer: 'adamw' }, budget);
          expect(est.weightsBytes / 1e6).toBeCloseTo(343.6, 0);
        } finally {
          c.model.dispose();
        }
      }
    } finally {
      backbone.model.dispose();
    }
  });
});
