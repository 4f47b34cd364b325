import { describe, expect, it } from 'vitest';
import { convGradientBackends } from '../../workers/backend';
import { cachesFeatures, forwardBackend, routeWork, type RoutingInput } from '../../src/core/routing';
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

  it("reads the convolution gradients from TF.js's kernel registry: every backend has them once ours for WASM are loaded", () => {
    expect(convGradientBackends()).toEqual(CONV);
  });
});
