/**
 * WebGPU's parallel shader compilation (TF.js's WEBGPU_ENGINE_COMPILE_ONLY path, tensorflow/tfjs#7191). With the flag
 * set, each kernel a trace issues starts its pipeline with createComputePipelineAsync and dispatches nothing, so the
 * browser can compile them side by side; otherwise each is compiled as it first runs, one after another. The trainer
 * (CompileAhead in trainer.ts) uses it for a phase's first step, when `compilesAhead` says so.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdapterInfo, BackendName } from './types';

/** What of the WebGPU backend this uses: its pipelines by shader key (pending ones are promises) and its wait for them. */
interface CompilingBackend {
  pipelineCache: Record<string, unknown>;
  checkCompileCompletionAsync(): Promise<void>;
}

const FLAG = 'WEBGPU_ENGINE_COMPILE_ONLY';

/**
 * Issues `trace`'s kernels on the active WebGPU backend without running them and waits until every pipeline is
 * compiled. Returns how many were new. The trace's outputs hold buffers no kernel filled: the caller throws them away.
 */
export async function compileOnWebGPU(trace: () => void): Promise<number> {
  if (tf.getBackend() !== 'webgpu') throw new Error(`compiling ahead needs the WebGPU backend (the active one is ${tf.getBackend()})`);
  const backend = tf.backend() as unknown as CompilingBackend;
  const before = Object.keys(backend.pipelineCache).length;
  tf.env().set(FLAG, true);
  try {
    trace();
  } finally {
    tf.env().set(FLAG, false);
  }
  await backend.checkCompileCompletionAsync();
  return Object.keys(backend.pipelineCache).length - before;
}

/**
 * Whether training on `backend` compiles its first step ahead (TrainConfig.compileAhead): only WebGPU can; `auto` on a
 * real GPU adapter, where the published gain is on many-core machines (tfjs#5815: first pass over 2× faster), and not on a
 * software one, where it measured no faster here (docs/benchmarks.md); `on` anywhere WebGPU trains.
 */
export function compilesAhead(policy: 'auto' | 'on' | 'off', backend: BackendName, adapter: AdapterInfo | null): boolean {
  if (backend !== 'webgpu' || policy === 'off') return false;
  return policy === 'on' || (adapter !== null && !adapter.isSoftware);
}
