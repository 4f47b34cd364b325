/**
 * Backend choice inside the worker: WebGPU first, then WebGL, WASM, CPU — the first that initialises, unless the
 * user forces one. Every failure is kept with its reason so the UI can say why the studio is not on WebGPU. In auto
 * mode the others are started too, so that a run can be routed to a faster one (src/core/routing.ts).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
// Convolution gradients for WASM, which TF.js 4.22 lacks: training and Grad-CAM can then run there.
import '../src/core/kernels/wasm-gradients';
import { isSoftwareAdapter, routeWork, type Routing, type RunWork } from '../src/core/routing';
import { BACKEND_ORDER, type AdapterInfo, type BackendInfo, type BackendName } from '../src/engine/types';
import { EngineError } from '../src/engine/errors';

// Served by Vite from our own origin: the WASM binaries are never fetched from a CDN.
setWasmPaths({ 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded });

async function webgpuAdapter(): Promise<AdapterInfo | null> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info;
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  const fields = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description };
  return { ...fields, isSoftware: isSoftwareAdapter(Object.values(fields), fallback) };
}

function webglAdapter(): AdapterInfo | null {
  const backend = tf.backend() as unknown as { gpgpu?: { gl?: WebGL2RenderingContext } };
  const gl = backend.gpgpu?.gl;
  if (!gl) return null;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const vendor = String(gl.getParameter(ext ? ext.UNMASKED_VENDOR_WEBGL : gl.VENDOR));
  const renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  return { vendor, architecture: '', device: renderer, description: renderer, isSoftware: isSoftwareAdapter([vendor, renderer]) };
}

async function tryBackend(name: BackendName): Promise<void> {
  if (name === 'webgpu' && !(globalThis.navigator as Navigator | undefined)?.gpu) {
    throw new EngineError('E_NO_WEBGPU', 'this browser exposes no WebGPU (navigator.gpu is missing)');
  }
  if (name === 'webgpu' && !(await globalThis.navigator.gpu.requestAdapter())) {
    throw new EngineError('E_NO_WEBGPU', 'WebGPU is present but no GPU adapter is available');
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new EngineError('E_BACKEND', `TF.js could not initialise the ${name} backend`);
  await tf.ready();
  // A backend can initialise and still fail on its first kernel (e.g. a lost WebGL context): prove it works.
  const probe = tf.tidy(() => tf.tensor1d([1, 2, 3]).square().sum());
  const [v] = await probe.data();
  probe.dispose();
  if (v !== 14) throw new EngineError('E_BACKEND', `the ${name} backend computed a wrong result in its self-test`);
}

export async function selectBackend(requested: BackendName | 'auto'): Promise<BackendInfo> {
  const candidates = requested === 'auto' ? BACKEND_ORDER : [requested];
  const failed: BackendInfo['failed'] = [];
  for (const name of candidates) {
    try {
      await tryBackend(name);
      const adapter = name === 'webgpu' ? await webgpuAdapter() : name === 'webgl' ? webglAdapter() : null;
      // A forced backend starts alone: forcing one is how a user steps around a backend that misbehaves.
      const available = requested === 'auto' ? await availableBesides(name, failed) : [name];
      return { name, requested, failed, adapter, available, tfjsVersion: tf.version.tfjs };
    } catch (err) {
      failed.push({ name, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  const detail = failed.map((f) => `${f.name}: ${f.reason}`).join('; ');
  throw new EngineError('E_BACKEND', requested === 'auto' ? 'no TF.js backend could be initialised' : `the ${requested} backend is not available in this browser`, detail);
}

/** Starts every backend not tried yet (each keeps its state in TF.js's registry), then makes `selected` active again. */
async function availableBesides(selected: BackendName, failed: BackendInfo['failed']): Promise<BackendName[]> {
  const available: BackendName[] = [];
  for (const name of BACKEND_ORDER) {
    if (name === selected) available.push(name);
    else if (!failed.some((f) => f.name === name) && (await tryBackend(name).then(() => true, () => false))) available.push(name);
  }
  await useBackend(selected);
  return available;
}

/** Backends whose kernel registry has both convolution gradients (registration happens on import, before init). */
export function convGradientBackends(): BackendName[] {
  return BACKEND_ORDER.filter((b) => tf.getKernel('Conv2DBackpropFilter', b) && tf.getKernel('DepthwiseConv2dNativeBackpropFilter', b));
}

/** Where a run's work goes on this backend (see src/core/routing.ts); a RangeError when no backend can train it. */
export function routeRun(info: BackendInfo, work: RunWork): Routing {
  return routeWork({ requested: info.requested, selected: info.name, adapter: info.adapter, available: info.available, convGradients: convGradientBackends(), work });
}

/**
 * Where work that differentiates through a network goes (Grad-CAM): the backend convolution training would use.
 * A forced backend without convolution gradients is refused.
 */
export function gradientBackend(info: BackendInfo): BackendName {
  const why = `Grad-CAM needs gradients, and the ${info.name} backend has no convolution-gradient kernels (Conv2DBackpropFilter)`;
  if (info.requested !== 'auto' && !convGradientBackends().includes(info.name)) throw new EngineError('E_CONFIG', `${why}: choose another backend`);
  try {
    return routeRun(info, { strategy: 'scratch', augment: true }).train;
  } catch (err) {
    throw new EngineError('E_CONFIG', `${why}, nor has any other backend that started here`, (err as Error).message);
  }
}

/** Makes an initialised backend the active one. Tensors stay where they are and move when another backend reads them. */
export async function useBackend(name: BackendName): Promise<void> {
  if (tf.getBackend() === name) return;
  if (!(await tf.setBackend(name))) throw new EngineError('E_BACKEND', `could not switch to the ${name} backend`);
}

/** Runs `work` on `name`, then switches back to the backend that was active. */
export async function onBackend<T>(name: BackendName, work: () => Promise<T>): Promise<T> {
  const previous = tf.getBackend() as BackendName;
  await useBackend(name);
  try {
    return await work();
  } finally {
    await useBackend(previous);
  }
}
