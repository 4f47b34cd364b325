/**
 * Issue 15: the torchvision backbones' feature pass on TF.js's WASM backend in Node at 224 px: images/s of the
 * backbone (image → the features its head pools), the time to read a .pth and map it onto the architecture, and
 * the memory in use (bytes TF.js holds; the process's resident set). The .pth is a random-init torchvision model
 * written by Debian's PyTorch (tests/fixtures/torchvision_parity.py; the pass costs the same with ImageNet values);
 * without /usr/bin/python3's torch the rows say why they are skipped. Pixels are seeded noise: the pass's speed
 * does not depend on what the image shows.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { torchvisionBackbone } from '../src/core/models/torch/backbone';
import { readCheckpoint } from '../src/core/models/torch/checkpoint';
import { BUILTIN_ZOO } from '../src/core/models/zoo';
import type { BenchRow } from './row';

const PYTHON = '/usr/bin/python3';
const ARCHITECTURES = ['resnet18', 'resnet50', 'efficientnet_b0', 'vit_b16', 'swin_t', 'swin_s'];
const SIZE = 224;

export async function torchFeaturesBenchmark(images: number, only?: string[]): Promise<BenchRow[]> {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (probe.status !== 0) return [{ benchmark: 'torch-features', metric: 'skipped', value: '', unit: '', note: `${PYTHON} cannot import torch and torchvision` }];
  await tf.setBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'torch-bench-'));
  const rows: BenchRow[] = [];
  try {
    for (const arch of ARCHITECTURES.filter((a) => !only || only.includes(a))) {
      const b = `torch-features/${arch}`;
      const made = spawnSync(PYTHON, [fileURLToPath(new URL('../tests/fixtures/torchvision_parity.py', import.meta.url)), arch, String(SIZE), '0', dir], { encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`${arch}: ${made.stderr}`);
      const bytes = new Uint8Array(readFileSync(join(dir, `${arch}.pth`)));
      const t0 = performance.now();
      const backbone = torchvisionBackbone(BUILTIN_ZOO.entry(`${arch}_imagenet`), readCheckpoint(bytes), SIZE);
      const loadSeconds = (performance.now() - t0) / 1000;
      try {
        const x = tf.randomUniform([images, SIZE, SIZE, 3], -2, 2, 'float32', 42);
        // One image first: WASM compiles nothing, but the first call allocates every intermediate buffer.
        tf.tidy(() => backbone.model.predict(x.slice(0, 1)));
        const t1 = performance.now();
        for (let i = 0; i < images; i++) {
          const y = tf.tidy(() => backbone.model.predict(x.slice(i, 1)) as tf.Tensor);
          await y.data();
          y.dispose();
        }
        const seconds = (performance.now() - t1) / 1000;
        const mem = tf.memory();
        x.dispose();
        const note = `${SIZE} px, ${images} images one at a time, wasm (${tf.env().getNumber('WASM_HAS_MULTITHREAD_SUPPORT') ? 'threads' : 'one thread'}), ${(bytes.length / 1e6).toFixed(0)} MB .pth`;
        rows.push(
          { benchmark: b, metric: 'feature pass', value: (images / seconds).toFixed(2), unit: 'images/s', note },
          { benchmark: b, metric: '.pth read + mapped', value: loadSeconds.toFixed(1), unit: 's', note: `${backbone.model.countParams().toLocaleString('en')} weights, BatchNorm statistics included` },
          { benchmark: b, metric: 'TF.js memory in use', value: (mem.numBytes / 1e6).toFixed(0), unit: 'MB', note: `${mem.numTensors} tensors (weights and the images)` },
          { benchmark: b, metric: 'process resident set', value: (process.memoryUsage().rss / 1e6).toFixed(0), unit: 'MB', note: 'Node, all architectures so far' },
        );
        for (const r of rows.slice(-4)) console.log(`${b}: ${r.metric} ${r.value} ${r.unit} (${r.note})`);
      } finally {
        backbone.model.dispose();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

