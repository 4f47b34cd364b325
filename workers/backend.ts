/**
 * Backend choice inside the worker: WebGPU first, then WebGL, WASM, CPU — the first that initialises, unless the
 * user forces one. Every failure is kept with its reason so the UI can say why the studio is not on WebGPU. In auto
 * mode the others are started too, so that a run can be routed to a faster one (src/core/routing.ts).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { MathBackendWebGL } from '@tensorflow/tfjs-backend-webgl';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
// Convolution gradients for WASM, which TF.js 4.22 lacks: training and Grad-CAM can then run there.
import '../src/core/kernels/wasm-gradients';
import { isSoftwareAdapter, routeWork, type BackendMeasurement, type Routing, type RunWork } from '../src/core/routing';
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

/**
 * TF.js 4.22's WASM build gives XNNPACK's thread pool at most half of navigator.hardwareConcurrency threads (its
 * backend.cc assumes two hardware threads per core), whatever setThreadsCount asks: a 2-core machine trained on one
 * thread though cross-origin isolated, and a CPU without SMT (Apple silicon, most ARM) on half its cores. That half
 * is taken once, as the module instantiates; for that moment the worker reports twice its logical cores, and asks for
 * one thread per logical core (TF.js's own ceiling of 8 stays). Without isolation there are no threads to give.
 */
async function startWasm(): Promise<boolean> {
  const cores = globalThis.navigator?.hardwareConcurrency;
  if (!globalThis.crossOriginIsolated || !cores) return tf.setBackend('wasm');
  setThreadsCount(cores);
  Object.defineProperty(navigator, 'hardwareConcurrency', { value: 2 * cores, configurable: true });
  try {
    return await tf.setBackend('wasm');
  } finally {
    // The own property shadowed the prototype's getter; removing it reports the real count again.
    delete (navigator as { hardwareConcurrency?: number }).hardwareConcurrency;
  }
}

/** XNNPACK's threads on the WASM backend, once it started (1 without cross-origin isolation). */
function wasmThreads(): number | null {
  return tf.findBackend('wasm') ? getThreadsCount() : null;
}

async function tryBackend(name: BackendName): Promise<void> {
  if (name === 'webgpu' && !(globalThis.navigator as Navigator | undefined)?.gpu) {
    throw new EngineError('E_NO_WEBGPU', 'this browser exposes no WebGPU (navigator.gpu is missing)');
  }
  if (name === 'webgpu' && !(await globalThis.navigator.gpu.requestAdapter())) {
    throw new EngineError('E_NO_WEBGPU', 'WebGPU is present but no GPU adapter is available');
  }
  const ok = name === 'wasm' ? await startWasm() : await tf.setBackend(name);
  if (!ok) throw new EngineError('E_BACKEND', `TF.js could not initialise the ${name} backend`);
  await tf.ready();
  // A backend can initialise and still fail on its first kernel (e.g. a lost WebGL context): prove it works.
  const probe = tf.tidy(() => tf.tensor1d([1, 2, 3]).square().sum());
  const [v] = await probe.data();
  probe.dispose();
  if (v !== 14) throw new EngineError('E_BACKEND', `the ${name} backend computed a wrong result in its self-test`);
  if (name === 'webgpu') watchDevice();
  if (name === 'webgl') startedWebGL(); // watches its context from now on
}

let deviceLost: ((reason: string) => void) | null = null;
const watched = new WeakSet<GPUDevice>();

/**
 * `handler` hears when the WebGPU backend's device is lost (a driver reset, a GPU process crash): its tensors,
 * buffers and pipelines went with it, and TF.js cannot rebuild them, so the worker is replaced as if it had died.
 */
export function onDeviceLost(handler: (reason: string) => void): void {
  deviceLost = handler;
}

const webgpuDevice = (): GPUDevice | undefined => (tf.findBackend('webgpu') as unknown as { device?: GPUDevice } | null)?.device;
const lostReason = (info: GPUDeviceLostInfo) => `the GPU device was lost (${info.reason || 'unknown reason'}${info.message ? `: ${info.message}` : ''})`;

function watchDevice(): void {
  const device = webgpuDevice();
  if (!device || watched.has(device)) return;
  watched.add(device);
  void device.lost.then((info) => deviceLost?.(lostReason(info)));
}

/** How long a failure waits for the device's `lost` promise, which a loss settles around the failure it causes. */
const LOSS_SETTLES_MS = 100;

/**
 * Why the WebGPU device was lost, or null while it is not. Work that failed because the device went away (a mapAsync
 * rejected when the device was destroyed) is an interruption, not the run's own failure: asked in that failure's
 * handler, it waits briefly for the `lost` promise, which may settle just after the failure.
 */
export async function gpuDeviceLoss(): Promise<string | null> {
  const device = webgpuDevice();
  if (!device) return null;
  return Promise.race([device.lost.then(lostReason), new Promise<null>((resolve) => setTimeout(() => resolve(null), LOSS_SETTLES_MS))]);
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
      const threads = available.includes('wasm') ? wasmThreads() : null;
      return { name, requested, failed, adapter, available, tfjsVersion: tf.version.tfjs, ...(threads === null ? {} : { wasmThreads: threads }) };
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

/**
 * Where a run's work goes on this backend (see src/core/routing.ts), by `measured` when a measurement of its model on
 * this adapter is stored (see measure.ts); a RangeError when no backend can train it.
 */
export function routeRun(info: BackendInfo, work: RunWork, measured?: BackendMeasurement | null): Routing {
  const refused = info.refused?.map((r) => r.name);
  return routeWork({ requested: info.requested, selected: info.name, adapter: info.adapter, available: info.available, convGradients: convGradientBackends(), work, refused, measured });
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

/**
 * Gives back what TF.js's WebGL backend kept from finished work. The backend pools every texture a run releases,
 * for reuse, and caches every shader program it compiles, and frees neither. In one page on SwiftShader (the bench's
 * architectures at 64 px, 84 images), with no tensor alive: 1.7 GB pooled and 777 programs after ResNet-18, 4.8 GB
 * and 3 582 after EfficientNet-B0, 6.6 GB and 4 009 after ViT-Ti/16; during Swin nano the pool reached 12 GB, the
 * context was lost and its shaders failed to compile ("Failed to compile fragment shader", an empty info log), and
 * every later model failed to link against the stale programs. So: with no tensor left on WebGL, or with its context
 * lost (its tensors are gone then anyway), the backend is replaced by a fresh one: disposing the old deletes every
 * program and texture, and TF.js makes the new one a new context when the old was lost. The next run compiles its
 * shaders afresh, which it mostly does anyway for another model or input size.
 * @returns whether it was replaced (not while a tensor, e.g. a loaded model, lives on a working context)
 */
export async function releaseWebGL(): Promise<boolean> {
  const webgl = startedWebGL();
  if (!webgl || (webgl.numDataIds() > 0 && !contextLost.has(webgl))) return false;
  const active = tf.getBackend();
  tf.removeBackend('webgl');
  tf.registerBackend('webgl', () => new MathBackendWebGL(), 2);
  // Removing the active backend leaves none active; TF.js would otherwise pick the highest-priority one on next use.
  if (active === 'webgl') await useBackend('webgl');
  return true;
}

/** TF.js's WebGL backend failed to build a shader program (its messages are fixed strings). */
export function isShaderFailure(err: unknown): boolean {
  return err instanceof Error && /Failed to (compile (fragment|vertex) shader|link vertex and fragment shaders)/.test(err.message);
}

/**
 * The WebGL backend's context was lost since it was made (a driver reset, memory pressure). Chromium may restore it,
 * but every program and texture the backend holds died with the old one, so the backend must be replaced.
 */
export function webglContextLost(): boolean {
  const webgl = startedWebGL();
  return webgl !== null && contextLost.has(webgl);
}

const contextLost = new WeakSet<MathBackendWebGL>();
const watchedContexts = new WeakSet<MathBackendWebGL>();

/** The WebGL backend if it was started (tf.findBackend would start it, making a context nobody asked for). */
function startedWebGL(): MathBackendWebGL | null {
  const webgl = (tf.engine().registry.webgl as MathBackendWebGL | undefined) ?? null;
  if (webgl && !watchedContexts.has(webgl)) {
    watchedContexts.add(webgl);
    if (webgl.gpgpu.gl.isContextLost()) contextLost.add(webgl);
    (webgl.gpgpu.gl.canvas as EventTarget).addEventListener('webglcontextlost', () => contextLost.add(webgl));
  }
  return webgl;
}
