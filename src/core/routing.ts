/**
 * Which backend runs a run's work. TF.js has one active backend per thread, and on a software GPU adapter (a CPU
 * emulating a GPU: SwiftShader, llvmpipe) the GPU backends are the slowest way to compute, so in 'auto' mode the
 * engine moves each kind of work to the backend that the benchmark measured fastest for it on such an adapter. A real
 * GPU keeps the selected backend, unless a measurement of this model on this adapter (BackendMeasurement, timed in the
 * worker on the run's first auto training there) found another faster: then the measured fastest runs it all.
 * Pure: the engine supplies what initialised and what was measured.
 */
import type { AdapterInfo, BackendMeasurement, BackendName, Routing, Strategy } from './train/types';

// The records of a run's routing and of a measurement are declared with the run record, which holds them.
export type { BackendMeasurement, MeasuredBackend, Routing } from './train/types';

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|softpipe|lavapipe|warp|software|basic render/i;

/** A CPU emulating a GPU, from the adapter's vendor/architecture/description (or its own fallback flag). */
export function isSoftwareAdapter(fields: string[], fallbackFlag = false): boolean {
  return fallbackFlag || fields.some((f) => SOFTWARE_ADAPTER.test(f));
}

export interface RunWork {
  strategy: Strategy;
  /** Augmentation on: images change every epoch, so a frozen backbone runs forward every step. */
  augment: boolean;
  /** False when the feature cache is turned off (TrainConfig.featureCache 'off'). */
  cacheFeatures?: boolean;
}

export interface RoutingInput {
  requested: BackendName | 'auto';
  /** The backend the engine selected at init (the first that initialised, or the forced one). */
  selected: BackendName;
  adapter: AdapterInfo | null;
  /** Every backend that initialised and passed its self-test. */
  available: readonly BackendName[];
  /** Backends that have the kernels for convolution gradients (WASM has them once src/core/kernels/wasm-gradients is loaded). */
  convGradients: readonly BackendName[];
  work: RunWork;
  /**
   * Backends that could not run an earlier run of this session (WebGL that could not build a model's shaders). In
   * auto mode no work goes to them, even the selected backend on a real GPU.
   */
  refused?: readonly BackendName[];
  /** The stored measurement for this adapter, model, strategy, input and batch (measurementKey), if any. */
  measured?: BackendMeasurement | null;
}

export interface MeasurementShape {
  model: string;
  strategy: Strategy;
  imageSize: number;
  channels: number;
  batchSize: number;
}

/** The adapter as its fields name it: a measurement holds for this GPU (and driver's description) only. */
export const adapterKey = (a: AdapterInfo | null): string => (a ? [a.vendor, a.architecture, a.description || a.device].join('/') : 'no GPU adapter');

/** What a measurement is kept under: adapter, model, strategy (what trains), input size and channels, batch. */
export const measurementKey = (adapter: AdapterInfo | null, s: MeasurementShape): string => `${adapterKey(adapter)}|${s.model}|${s.strategy}|${s.imageSize}x${s.imageSize}x${s.channels}|batch ${s.batchSize}`;

/**
 * The backends a measurement times for this work: the usable ones that can train it, less the CPU backend, which runs
 * the same work on the same cores as WASM and was 2.6–12× slower than WASM in every row of bench/backends.ts (and takes
 * minutes a step on a large model). Fewer than two: nothing to choose between.
 */
export function measurementCandidates({ selected, available, convGradients, work, refused = [] }: Omit<RoutingInput, 'requested' | 'adapter' | 'measured'>): BackendName[] {
  const conv = trainsConvolutions(work.strategy);
  return (['webgpu', 'webgl', 'wasm'] as const).filter((b) => usable(b, selected, available, refused) && (!conv || convGradients.includes(b)));
}

/** "WASM 1.20 s/step, WebGL 9.80 s/step → WASM": the figures, then the backend that runs the work. */
export function describeMeasurement(m: BackendMeasurement, chosen: BackendName = m.fastest): string {
  const figures = m.figures.map((f) => `${BACKEND_LABEL[f.backend]} ${seconds(f.secondsPerStep)}/step`);
  const failed = m.failed.map((f) => `${BACKEND_LABEL[f.backend]} failed`);
  return `${[...figures, ...failed].join(', ')} → ${BACKEND_LABEL[chosen]}`;
}

const seconds = (s: number) => (s >= 10 ? `${s.toFixed(0)} s` : s >= 0.1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(0)} ms`);

/*
 * Orders for a software adapter (or no GPU backend at all), fastest first, from `npm run bench -- --only backends`
 * (bench/backends.ts: MobileNetV2-0.35 at 224 px, headless Chromium, WebGPU and WebGL on SwiftShader, each backend
 * forced and timed in turn on the shared 2-core machine). Run of 2026-11-28 00:14, load steady at 4–5:
 *   backbone forward per image   wasm 44 ms · webgl 11.5× · cpu 12.4× · webgpu 52×
 *   Medical head epoch (cached)  wasm 44 ms · webgl 3.1× · cpu 5.1× · webgpu 6.7×
 *   fine-tuning step, batch 16   webgl 72 s · cpu 2.6× · webgpu 3.5× · wasm: TF.js had no Conv2DBackpropFilter
 * An earlier run under a load of 16–22 that changed while the backends took turns put WebGPU (1.4×) before the CPU
 * (2.1×) for fine-tuning; the steady run decides, and WASM first for forward and dense work held in both.
 * With our WASM convolution gradients (src/core/kernels/wasm-gradients.ts) the same step on WASM took 16–19 s in Node
 * under a load of 3–6 (2026-12-03), about 4× faster than WebGL's 72 s, so WASM leads convolution training too; WebGL
 * stays next for a build where the WASM backend did not start. With the kernels on XNNPACK throughout and batch norm
 * trained as one op (`npm run bench -- --only finetune-step`, 2026-12-04 06:38, each backend forced in its own page,
 * nothing else running):
 *   fine-tuning step, batch 16   wasm 1.91 s · webgl 20.6× · cpu 39.4×   (WASM on one thread: 2.01 s)
 */
const FORWARD_ORDER: readonly BackendName[] = ['wasm', 'webgl', 'cpu', 'webgpu'];
const CONV_TRAINING_ORDER: readonly BackendName[] = ['wasm', 'webgl', 'cpu', 'webgpu'];
const DENSE_TRAINING_ORDER: readonly BackendName[] = ['wasm', 'webgl', 'cpu', 'webgpu'];

export const BACKEND_LABEL: Record<BackendName, string> = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WASM', cpu: 'CPU' };

/** Scratch and fine-tuning differentiate through convolutions; frozen and medical train only a dense head. */
export const trainsConvolutions = (strategy: Strategy): boolean => strategy === 'scratch' || strategy === 'finetune';

/** The engine computes a frozen backbone's features once when nothing changes the images between epochs. */
export const cachesFeatures = (work: RunWork): boolean => !work.augment && work.cacheFeatures !== false && (work.strategy === 'frozen' || work.strategy === 'medical' || work.strategy === 'mlp');

const KNOWN_ADAPTERS: [RegExp, string][] = [
  [/swiftshader/i, 'SwiftShader'],
  [/llvmpipe/i, 'llvmpipe'],
  [/lavapipe/i, 'lavapipe'],
  [/softpipe/i, 'softpipe'],
  [/warp|basic render/i, 'Microsoft WARP'],
];

function adapterName(a: AdapterInfo): string {
  const text = [a.architecture, a.device, a.description, a.vendor].join(' ');
  return KNOWN_ADAPTERS.find(([re]) => re.test(text))?.[1] ?? (a.architecture || a.description || a.vendor || 'unknown');
}

/** What runs where, in the words the UI shows: "features, head training and validation on WASM". */
function describe(work: RunWork, forward: BackendName, train: BackendName): string {
  const [f, t] = [BACKEND_LABEL[forward], BACKEND_LABEL[train]];
  if (cachesFeatures(work)) return forward === train ? `features, head training and validation on ${f}` : `features and validation on ${f}, head training on ${t}`;
  return forward === train ? `training and validation on ${t}` : `training on ${t}, validation on ${f}`;
}

/**
 * Where forward-only work outside a run (evaluation, prediction) goes: the selected backend when it was forced or is a
 * real GPU, otherwise the backend measured fastest for a forward pass among those that started.
 */
export function forwardBackend({ requested, selected, adapter, available, refused = [] }: Omit<RoutingInput, 'convGradients' | 'work'>): BackendName {
  if (requested !== 'auto') return selected;
  if (onRealGpu(selected, adapter, refused)) return selected;
  return FORWARD_ORDER.find((b) => usable(b, selected, available, refused)) ?? selected;
}

const usable = (b: BackendName, selected: BackendName, available: readonly BackendName[], refused: readonly BackendName[]) => (b === selected || available.includes(b)) && !refused.includes(b);
const onRealGpu = (selected: BackendName, adapter: AdapterInfo | null, refused: readonly BackendName[]) => (selected === 'webgpu' || selected === 'webgl') && !adapter?.isSoftware && !refused.includes(selected);

export function routeWork(input: RoutingInput): Routing {
  const { requested, selected, adapter, available, convGradients, work, refused = [] } = input;
  const conv = trainsConvolutions(work.strategy);
  const canTrain = (b: BackendName) => !conv || convGradients.includes(b);
  if (requested !== 'auto') {
    // A forced backend is honoured (tests force WebGPU to prove it correct), so a missing kernel is the user's to fix.
    if (!canTrain(selected)) {
      throw new RangeError(`the ${BACKEND_LABEL[selected]} backend cannot train the ${work.strategy} strategy: it has no convolution-gradient kernels (Conv2DBackpropFilter); choose another backend, or the frozen or medical strategy`);
    }
    return { forward: selected, train: selected, routed: false, reason: `${describe(work, selected, selected)}, as chosen` };
  }
  if (refused.length) {
    // Said only when the refusal changes where the work goes.
    const plain = routeWork({ ...input, refused: [] });
    if (!refused.includes(plain.forward) && !refused.includes(plain.train)) return plain;
  }
  const m = input.measured;
  // The fastest measured backend that can run the work now (one that won the measurement may have failed a run since).
  const fastest = m?.figures.find((f) => usable(f.backend, selected, available, refused) && canTrain(f.backend))?.backend;
  if (m && fastest) {
    const instead = fastest === m.fastest ? '' : ` (${BACKEND_LABEL[m.fastest]} ${refused.includes(m.fastest) ? 'failed a run on this page' : 'did not start here'})`;
    return { forward: fastest, train: fastest, routed: fastest !== selected, reason: `Measured here: ${describeMeasurement(m, fastest)}: ${describe(work, fastest, fastest)}${instead}`, measured: m };
  }
  if (onRealGpu(selected, adapter, refused)) return { forward: selected, train: selected, routed: false, reason: `GPU: ${describe(work, selected, selected)}` };

  const forward = forwardBackend(input);
  const train = (conv ? CONV_TRAINING_ORDER : DENSE_TRAINING_ORDER).find((b) => usable(b, selected, available, refused) && canTrain(b));
  if (!train) throw new RangeError(`no backend that started here can train the ${work.strategy} strategy (convolution gradients are missing on ${available.map((b) => BACKEND_LABEL[b]).join(', ')}); choose the frozen or medical strategy`);
  const routed = forward !== selected || train !== selected;
  const where = refused.length
    ? `${refused.map((b) => BACKEND_LABEL[b]).join(' and ')} failed a run on this page and is left out`
    : adapter?.isSoftware
      ? `Software adapter (${adapterName(adapter)})`
      : 'No GPU backend';
  const why = refused.length ? '' : routed ? ' — faster here' : '';
  return { forward, train, routed, reason: `${where}: ${describe(work, forward, train)}${why}` };
}
