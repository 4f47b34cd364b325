import { describe, expect, it } from 'vitest';
import { convGradientBackends } from '../../workers/backend';
import { cachesFeatures, forwardBackend, measurementCandidates, measurementKey, routeWork, type BackendMeasurement, type RoutingInput } from '../../src/core/routing';
import type { AdapterInfo, BackendName } from '../../src/core/train/types';

const SWIFTSHADER: AdapterInfo = { vendor: 'google', architecture: 'swiftshader', device: '', description: '', isSoftware: true };
const HARDWARE: AdapterInfo = { vendor: 'nvidia', architecture: 'ampere', device: '', description: '', isSoftware: false };
const ALL: BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];
// What the registry reports once src/core/kernels/wasm-gradients is loaded (workers/backend.ts loads it).
const CONV: BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];
const WITHOUT_WASM: BackendName[] = ['webgpu', 'webgl', 'cpu'];

const input = (over: Partial<RoutingInput>): RoutingInput => ({
  requested: 'auto',
  selected: 'webgpu',
  adapter: SWIFTSHADER,
  available: ALL,
  convGradients: CONV,
  work: { strategy: 'scratch', augment: false },
  ...over,
});

describe('routing', () => {
  it('honours a forced backend whatever the adapter and the work', () => {
    for (const strategy of ['scratch', 'frozen', 'medical', 'mlp', 'finetune'] as const) {
      const r = routeWork(input({ requested: 'webgpu', work: { strategy, augment: false } }));
      expect(r).toMatchObject({ forward: 'webgpu', train: 'webgpu', routed: false });
      expect(r.reason).toMatch(/on WebGPU, as chosen$/);
    }
  });

  it('refuses a forced backend that lacks the kernels for the work, saying what to do', () => {
    expect(() => routeWork(input({ requested: 'wasm', selected: 'wasm', adapter: null, convGradients: WITHOUT_WASM, work: { strategy: 'finetune', augment: false } }))).toThrow(
      /the WASM backend cannot train the finetune strategy: it has no convolution-gradient kernels \(Conv2DBackpropFilter\); choose another backend, or the frozen or medical strategy/,
    );
    expect(routeWork(input({ requested: 'wasm', selected: 'wasm', adapter: null, work: { strategy: 'finetune', augment: false } }))).toMatchObject({ forward: 'wasm', train: 'wasm', routed: false });
    expect(routeWork(input({ requested: 'wasm', selected: 'wasm', adapter: null, work: { strategy: 'medical', augment: false } }))).toMatchObject({ forward: 'wasm', train: 'wasm' });
  });

  it('keeps everything on a real GPU', () => {
    for (const strategy of ['scratch', 'medical'] as const) {
      expect(routeWork(input({ adapter: HARDWARE, work: { strategy, augment: false } }))).toMatchObject({ forward: 'webgpu', train: 'webgpu', routed: false });
    }
    expect(routeWork(input({ selected: 'webgl', adapter: HARDWARE }))).toMatchObject({ forward: 'webgl', train: 'webgl', routed: false });
  });

  it('on a software adapter runs forward work and dense-head training on WASM', () => {
    const cached = routeWork(input({ work: { strategy: 'medical', augment: false } }));
    expect(cached).toEqual({ forward: 'wasm', train: 'wasm', routed: true, reason: 'Software adapter (SwiftShader): features, head training and validation on WASM — faster here' });
    // With augmentation the frozen backbone runs every step, forward only: still no convolution gradient.
    const augmented = routeWork(input({ work: { strategy: 'frozen', augment: true } }));
    expect(augmented).toMatchObject({ forward: 'wasm', train: 'wasm', reason: 'Software adapter (SwiftShader): training and validation on WASM — faster here' });
  });

  it('on a software adapter trains convolutions on the fastest backend that has their gradients', () => {
    for (const strategy of ['scratch', 'finetune'] as const) {
      expect(routeWork(input({ work: { strategy, augment: false } }))).toEqual({ forward: 'wasm', train: 'wasm', routed: true, reason: 'Software adapter (SwiftShader): training and validation on WASM — faster here' });
    }
    // WebGL on SwiftShader too (no WebGPU): the same.
    const webgl = routeWork(input({ selected: 'webgl', available: ['webgl', 'wasm', 'cpu'], adapter: { ...SWIFTSHADER, architecture: '', description: 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)' } }));
    expect(webgl).toMatchObject({ forward: 'wasm', train: 'wasm', reason: expect.stringMatching(/^Software adapter \(SwiftShader\): /) });
    // A WASM without the gradient kernels: WebGL, then the CPU backend, ahead of WebGPU on SwiftShader.
    expect(routeWork(input({ convGradients: WITHOUT_WASM }))).toMatchObject({ forward: 'wasm', train: 'webgl', routed: true });
    expect(routeWork(input({ convGradients: WITHOUT_WASM, available: ['webgpu', 'wasm', 'cpu'] }))).toMatchObject({ forward: 'wasm', train: 'cpu', routed: true });
  });

  it('uses the next backend for forward work when WASM did not start', () => {
    expect(routeWork(input({ available: ['webgpu', 'webgl', 'cpu'], work: { strategy: 'medical', augment: false } }))).toMatchObject({ forward: 'webgl', train: 'webgl' });
  });

  it('without any GPU backend, runs everything on WASM (convolution training on the CPU when WASM lacks the gradients)', () => {
    const r = routeWork(input({ selected: 'wasm', adapter: null, available: ['wasm', 'cpu'], work: { strategy: 'scratch', augment: false } }));
    expect(r).toEqual({ forward: 'wasm', train: 'wasm', routed: false, reason: 'No GPU backend: training and validation on WASM' });
    const without = routeWork(input({ selected: 'wasm', adapter: null, available: ['wasm', 'cpu'], convGradients: WITHOUT_WASM, work: { strategy: 'scratch', augment: false } }));
    expect(without).toEqual({ forward: 'wasm', train: 'cpu', routed: true, reason: 'No GPU backend: training on CPU, validation on WASM — faster here' });
    expect(routeWork(input({ selected: 'wasm', adapter: null, available: ['wasm', 'cpu'], work: { strategy: 'frozen', augment: false } }))).toMatchObject({ forward: 'wasm', train: 'wasm', routed: false });
    expect(() => routeWork(input({ selected: 'wasm', adapter: null, available: ['wasm'], convGradients: WITHOUT_WASM }))).toThrow(/no backend that started here can train the scratch strategy/);
  });

  it('sends evaluation and prediction to the fastest forward backend on a software adapter only', () => {
    expect(forwardBackend(input({}))).toBe('wasm');
    expect(forwardBackend(input({ available: ['webgpu', 'webgl', 'cpu'] }))).toBe('webgl');
    expect(forwardBackend(input({ adapter: HARDWARE }))).toBe('webgpu');
    expect(forwardBackend(input({ requested: 'webgpu' }))).toBe('webgpu');
  });

  it('leaves out a backend that failed a run on this page (WebGL that could not build the shaders), saying so only where it changes the route', () => {
    // A real GPU without WebGPU: everything was on WebGL; now on WASM.
    const gl = input({ selected: 'webgl', adapter: HARDWARE, available: ['webgl', 'wasm', 'cpu'], refused: ['webgl'] });
    expect(routeWork(gl)).toEqual({ forward: 'wasm', train: 'wasm', routed: true, reason: 'WebGL failed a run on this page and is left out: training and validation on WASM' });
    expect(forwardBackend(gl)).toBe('wasm');
    // SwiftShader where WASM lacks the gradients: training went to WebGL, now to the CPU backend.
    expect(routeWork(input({ convGradients: WITHOUT_WASM, refused: ['webgl'] }))).toMatchObject({ forward: 'wasm', train: 'cpu', routed: true, reason: 'WebGL failed a run on this page and is left out: training on CPU, validation on WASM' });
    // Where WebGL was not on the route, the route and its reason are unchanged.
    expect(routeWork(input({ refused: ['webgl'] }))).toEqual(routeWork(input({})));
    // A forced backend is honoured as ever.
    expect(routeWork(input({ requested: 'webgl', selected: 'webgl', refused: ['webgl'] }))).toMatchObject({ forward: 'webgl', train: 'webgl' });
  });

  it('caches features only for a frozen backbone with nothing changing the images', () => {
    expect(cachesFeatures({ strategy: 'medical', augment: false })).toBe(true);
    expect(cachesFeatures({ strategy: 'mlp', augment: false })).toBe(true);
    expect(cachesFeatures({ strategy: 'frozen', augment: false, cacheFeatures: false })).toBe(false);
    expect(cachesFeatures({ strategy: 'frozen', augment: true })).toBe(false);
    expect(cachesFeatures({ strategy: 'finetune', augment: false })).toBe(false);
  });

  describe('a measured choice of backend', () => {
    const shape = { model: 'mobilenet_v2_0.35_224', strategy: 'finetune' as const, imageSize: 224, channels: 3, batchSize: 16 };
    const measured = (adapter: AdapterInfo | null, figures: [BackendName, number][]): BackendMeasurement => ({
      key: measurementKey(adapter, shape),
      adapter,
      ...shape,
      classes: 4,
      figures: figures.map(([backend, secondsPerStep]) => ({ backend, secondsPerStep, firstStepSeconds: 3 * secondsPerStep })),
      failed: [],
      fastest: figures[0][0],
      measuredAt: '2026-12-03T19:00:00.000Z',
      seconds: 40,
      config: { dataset: { kind: 'demo', seed: 1, imageSize: 224, perClass: 4, split: { train: 0.7, val: 0.15, test: 0.15 } }, model: shape.model, strategy: 'finetune', epochs: 1, batchSize: 16, learningRate: 1e-3, seed: 1 },
    });
    const finetune = { strategy: 'finetune' as const, augment: false };

    it('routes a real GPU by the stored fastest, the figures in its reason', () => {
      // WebGL measured faster than WebGPU on this GPU: training and validation leave the selected WebGPU.
      const m = measured(HARDWARE, [['webgl', 0.42], ['webgpu', 0.9], ['wasm', 6.1]]);
      expect(routeWork(input({ adapter: HARDWARE, work: finetune, measured: m }))).toEqual({
        forward: 'webgl',
        train: 'webgl',
        routed: true,
        reason: 'Measured here: WebGL 0.42 s/step, WebGPU 0.90 s/step, WASM 6.10 s/step → WebGL: training and validation on WebGL',
        measured: m,
      });
      // WebGPU fastest: it stays where it was, still said with the figures.
      const stays = routeWork(input({ adapter: HARDWARE, work: finetune, measured: measured(HARDWARE, [['webgpu', 0.05], ['webgl', 0.2], ['wasm', 12]]) }));
      expect(stays).toMatchObject({ forward: 'webgpu', train: 'webgpu', routed: false, reason: 'Measured here: WebGPU 50 ms/step, WebGL 0.20 s/step, WASM 12 s/step → WebGPU: training and validation on WebGPU' });
      // Without a measurement, a real GPU keeps everything (the fixed order).
      expect(routeWork(input({ adapter: HARDWARE, work: finetune }))).toMatchObject({ forward: 'webgpu', train: 'webgpu', reason: 'GPU: training and validation on WebGPU' });
    });

    it('routes a software adapter by a stored measurement too, over the fixed order', () => {
      const m = measured(SWIFTSHADER, [['webgl', 2], ['wasm', 3]]);
      expect(routeWork(input({ work: finetune, measured: m }))).toMatchObject({ forward: 'webgl', train: 'webgl', routed: true, reason: 'Measured here: WebGL 2.00 s/step, WASM 3.00 s/step → WebGL: training and validation on WebGL' });
    });

    it('honours a forced backend whatever was measured', () => {
      const m = measured(HARDWARE, [['wasm', 0.1], ['webgpu', 9]]);
      expect(routeWork(input({ requested: 'webgpu', adapter: HARDWARE, work: finetune, measured: m }))).toEqual({ forward: 'webgpu', train: 'webgpu', routed: false, reason: 'training and validation on WebGPU, as chosen' });
    });

    it('takes the next fastest when the fastest failed a run on this page or did not start, and says so', () => {
      const m = measured(HARDWARE, [['webgl', 0.4], ['webgpu', 0.9], ['wasm', 6]]);
      expect(routeWork(input({ adapter: HARDWARE, work: finetune, measured: m, refused: ['webgl'] }))).toMatchObject({
        forward: 'webgpu',
        train: 'webgpu',
        reason: 'Measured here: WebGL 0.40 s/step, WebGPU 0.90 s/step, WASM 6.00 s/step → WebGPU: training and validation on WebGPU (WebGL failed a run on this page)',
      });
      expect(routeWork(input({ adapter: HARDWARE, available: ['webgpu', 'wasm', 'cpu'], work: finetune, measured: m })).reason).toMatch(/→ WebGPU: training and validation on WebGPU \(WebGL did not start here\)$/);
      // None of the measured backends can run it now: the fixed order.
      expect(routeWork(input({ adapter: HARDWARE, available: ['webgpu', 'cpu'], work: finetune, measured: measured(HARDWARE, [['webgl', 1], ['wasm', 2]]) }))).toMatchObject({ train: 'webgpu', reason: 'GPU: training and validation on WebGPU' });
    });

    it('keys a measurement by adapter, model, strategy, input size and channels, and batch', () => {
      const key = measurementKey(HARDWARE, shape);
      expect(key).toBe('nvidia/ampere/|mobilenet_v2_0.35_224|finetune|224x224x3|batch 16');
      const others = [
        measurementKey({ ...HARDWARE, architecture: 'ada' }, shape),
        measurementKey({ ...HARDWARE, description: 'NVIDIA GeForce RTX 3060' }, shape),
        measurementKey(null, shape),
        measurementKey(HARDWARE, { ...shape, model: 'mobilenet_v2_1.0_224' }),
        measurementKey(HARDWARE, { ...shape, strategy: 'frozen' }),
        measurementKey(HARDWARE, { ...shape, imageSize: 128 }),
        measurementKey(HARDWARE, { ...shape, channels: 1 }),
        measurementKey(HARDWARE, { ...shape, batchSize: 32 }),
      ];
      expect(new Set([key, ...others]).size).toBe(others.length + 1);
    });

    it('measures the GPU backends and WASM that can run the work, never the CPU backend', () => {
      const args = { selected: 'webgpu' as const, available: ALL, convGradients: CONV, work: finetune };
      expect(measurementCandidates(args)).toEqual(['webgpu', 'webgl', 'wasm']);
      expect(measurementCandidates({ ...args, convGradients: WITHOUT_WASM })).toEqual(['webgpu', 'webgl']);
      expect(measurementCandidates({ ...args, convGradients: WITHOUT_WASM, work: { strategy: 'medical', augment: false } })).toEqual(['webgpu', 'webgl', 'wasm']);
      expect(measurementCandidates({ ...args, refused: ['webgl'] })).toEqual(['webgpu', 'wasm']);
      expect(measurementCandidates({ ...args, selected: 'wasm', available: ['wasm', 'cpu'] })).toEqual(['wasm']);
    });
  });

  it("reads the convolution gradients from TF.js's kernel registry: every backend has them once ours for WASM are loaded", () => {
    expect(convGradientBackends()).toEqual(CONV);
  });
});
