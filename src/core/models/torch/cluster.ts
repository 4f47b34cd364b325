/**
 * A model trained on a cluster by an exported recipe (issue 19's train.py), brought back: its `model.pth` (a plain
 * state_dict) made into the same TF.js classifier the browser run trains, and its `metrics.json` checked against
 * that run. The layouts are fixed by RECIPE-CONTRACT.md:
 * - a torchvision backbone keeps torchvision's own key names (mapped by torchvision.ts), without torchvision's
 *   classifier; the studio's head follows as `studio_head.head_dense.*` (medical and mlp heads) and
 *   `studio_head.logits.*`, `nn.Linear` layout [out, in] (Dense kernels are [in, out]);
 * - a torchvision architecture trained from scratch has no separate backbone: its `studio_head.logits` is the
 *   classifier torchvision names `fc` (ResNet), `classifier.1` (EfficientNet), `heads.head` (ViT) or `head` (Swin);
 * - the simple CNN uses the TF.js layer names: `conv{i}` [out, in, kh, kw], `bn{i}` and `logits` [out, in], whose
 *   inputs are in TF.js's NHWC flatten order.
 */
import * as tf from '@tensorflow/tfjs';
import { buildArchitecture } from '../architectures/builders';
import { buildSimpleCnn } from '../simple_cnn';
import { buildClassifier, type StrategyName } from '../strategies';
import type { Zoo, ZooEntry } from '../zoo';
import type { RunRecord } from '../../train/types';
import { resolveTrainConfig } from '../../settings/resolve';
import type { StateDict, TorchTensor } from './checkpoint';
import { torchvisionBackbone } from './backbone';
import { loadTorchvisionWeights, TORCHVISION_ARCHITECTURES, WeightMappingError } from './torchvision';

export const CLUSTER_METRICS_FORMAT = 'mri-studio-cluster-run';
export const CLUSTER_METRICS_VERSION = 1;

/** A refusal a person can act on: the model or metrics file does not belong to the run it is brought back to. */
export class ClusterImportError extends Error {
  override name = 'ClusterImportError';
  constructor(
    message: string,
    /** Every problem found, one per line (keys named), when there are several. */
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

export interface ClusterEpoch {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  lr?: number;
  seconds: number;
}

/** metrics.json as train.py writes it (RECIPE-CONTRACT.md). */
export interface ClusterMetrics {
  format: typeof CLUSTER_METRICS_FORMAT;
  version: number;
  runId: string;
  architecture: string;
  classes: string[];
  imageSize: number;
  channels: number;
  epochs: ClusterEpoch[];
  best: { epoch: number; valAccuracy: number };
  torch: string;
  worldSize: number;
  device: string;
  amp: boolean;
  startedAt: string;
  endedAt: string;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** metrics.json's text (or parsed value), checked field by field; a ClusterImportError names every bad field. */
export function parseClusterMetrics(input: string | unknown): ClusterMetrics {
  let m: Record<string, unknown>;
  try {
    m = typeof input === 'string' ? JSON.parse(input) : (input as Record<string, unknown>);
  } catch (err) {
    throw new ClusterImportError(`metrics.json is not JSON: ${(err as Error).message}`);
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new ClusterImportError('metrics.json must hold a JSON object');
  if (m.format !== CLUSTER_METRICS_FORMAT) throw new ClusterImportError(`metrics.json is not a cluster run's metrics (format ${JSON.stringify(m.format)}, expected "${CLUSTER_METRICS_FORMAT}"): pick the metrics.json that train.py wrote`);
  if (m.version !== CLUSTER_METRICS_VERSION) throw new ClusterImportError(`metrics.json is version ${JSON.stringify(m.version)}; this studio reads version ${CLUSTER_METRICS_VERSION}`);
  const problems: string[] = [];
  const want = (ok: boolean, what: string) => ok || problems.push(what);
  want(typeof m.runId === 'string' && m.runId !== '', 'runId must be the browser run id');
  want(typeof m.architecture === 'string', 'architecture must be a string');
  want(Array.isArray(m.classes) && m.classes.length >= 2 && m.classes.every((c) => typeof c === 'string'), 'classes must list at least 2 class names');
  want(Number.isInteger(m.imageSize) && (m.imageSize as number) > 0, 'imageSize must be a positive whole number');
  want(m.channels === 1 || m.channels === 3, 'channels must be 1 or 3');
  want(typeof m.torch === 'string', 'torch must be the PyTorch version');
  want(Number.isInteger(m.worldSize) && (m.worldSize as number) >= 1, 'worldSize must be a whole number of processes ≥ 1');
  want(typeof m.device === 'string', 'device must be a string');
  want(typeof m.amp === 'boolean', 'amp must be true or false');
  const epochs = Array.isArray(m.epochs) ? (m.epochs as Record<string, unknown>[]) : null;
  if (!epochs || epochs.length === 0) problems.push('epochs must list at least one epoch');
  else
    epochs.forEach((e, i) => {
      const bad = ['epoch', 'loss', 'accuracy', 'valLoss', 'valAccuracy', 'seconds'].filter((k) => !isNum(e?.[k]));
      if (bad.length) problems.push(`epochs[${i}] lacks a number for ${bad.join(', ')}`);
    });
  const best = m.best as Record<string, unknown> | undefined;
  if (!best || !Number.isInteger(best.epoch) || !isNum(best.valAccuracy)) problems.push('best must be { epoch, valAccuracy }');
  else if (epochs && !epochs.some((e) => e?.epoch === best.epoch)) problems.push(`best.epoch ${best.epoch} is not among the epochs`);
  if (problems.length) throw new ClusterImportError(`metrics.json is not usable: ${problems.join('; ')}`, problems);
  return m as unknown as ClusterMetrics;
}

/** The architecture name train.py writes for a run's model (a torchvision builder name, or simple_cnn); throws for a model with no PyTorch twin. */
export function clusterArchitecture(entry: ZooEntry): string {
  if (entry.family === 'simple_cnn') return 'simple_cnn';
  const architecture = entry.source.kind === 'torchvision' ? entry.source.architecture : entry.source.kind === 'builtin' ? entry.id : null;
  if (!architecture || !TORCHVISION_ARCHITECTURES.includes(architecture)) throw new ClusterImportError(`${entry.name} (${entry.id}) has no PyTorch twin, so it cannot come back from a cluster; these can: simple_cnn, ${TORCHVISION_ARCHITECTURES.join(', ')}`);
  return architecture;
}

/** torchvision spells some builders with more underscores (vit_b_16 for the studio's vit_b16). */
const sameArchitecture = (a: string, b: string) => a.replace(/_/g, '') === b.replace(/_/g, '');

/**
 * Refuses metrics of another run or another model: a wrong folder is the likely cause, and an import under the
 * wrong run would put one run's figures next to another's in the comparison and the model card.
 */
export function checkMetricsAgainstRun(metrics: ClusterMetrics, run: RunRecord, zoo: Zoo): void {
  if (metrics.runId !== run.runId) throw new ClusterImportError(`metrics.json belongs to run ${metrics.runId}, not ${run.runId}: bring it back to run ${metrics.runId}, or pick the folder that run ${run.runId}'s recipe wrote`);
  const problems: string[] = [];
  const architecture = clusterArchitecture(zoo.entry(run.model));
  if (!sameArchitecture(metrics.architecture, architecture)) problems.push(`architecture ${metrics.architecture}, the run's is ${architecture}`);
  if (metrics.classes.length !== run.classes.length || metrics.classes.some((c, i) => c !== run.classes[i])) problems.push(`classes [${metrics.classes.join(', ')}], the run's are [${run.classes.join(', ')}] (same names in the same order)`);
  if (run.input && metrics.imageSize !== run.input.imageSize) problems.push(`image size ${metrics.imageSize} px, the run's is ${run.input.imageSize} px`);
  if (run.input && metrics.channels !== run.input.channels) problems.push(`${metrics.channels} channel(s), the run's images have ${run.input.channels}`);
  if (problems.length) throw new ClusterImportError(`metrics.json does not match run ${run.runId}: ${problems.join('; ')}`, problems);
}

/** Collects every missing, extra and misshapen key before any weight is set. */
class KeyCheck {
  readonly missing: string[] = [];
  readonly wrongShape: string[] = [];
  readonly used = new Set<string>();
  constructor(readonly state: StateDict) {}

  /** The tensor under `key` if it is there with `shape` (a float tensor), else null with the problem noted. */
  take(key: string, shape: number[]): TorchTensor | null {
    const t = this.state.get(key);
    if (!t) return this.missing.push(key), null;
    this.used.add(key);
    if (!t.data) return this.wrongShape.push(`${key} holds integers, not floats`), null;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) return this.wrongShape.push(`${key} is ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`), null;
    return t;
  }

  problems(extra: string[]): string[] {
    return [
      ...(this.missing.length ? [`missing ${this.missing.length}: ${this.missing.join(', ')}`] : []),
      ...(this.wrongShape.length ? [`wrong shape ${this.wrongShape.length}: ${this.wrongShape.join('; ')}`] : []),
      ...(extra.length ? [`not in the model ${extra.length}: ${extra.join(', ')}`] : []),
    ];
  }
}

const IGNORED = /(?:^|\.)num_batches_tracked$/;

/** A Dense layer's [kernel, bias] from an nn.Linear's weight [out, in] and bias. */
function denseFrom(check: KeyCheck, layer: tf.layers.Layer, prefix: string): (() => tf.Tensor[]) | null {
  const [inputs, units] = layer.weights[0].shape as number[];
  const w = check.take(`${prefix}.weight`, [units, inputs]);
  const b = check.take(`${prefix}.bias`, [units]);
  return w && b ? () => [tf.tidy(() => tf.tensor2d(w.data!, [units, inputs]).transpose()), tf.tensor1d(b.data!)] : null;
}

/** The simple CNN's weights: conv [out, in, kh, kw] → [kh, kw, in, out]; BatchNorm γ, β, mean, variance; logits. */
function loadSimpleCnn(model: tf.LayersModel, state: StateDict): void {
  const check = new KeyCheck(state);
  const plan: [tf.layers.Layer, () => tf.Tensor[]][] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const shapes = layer.weights.map((w) => w.shape as number[]);
    let make: (() => tf.Tensor[]) | null = null;
    if (layer.getClassName() === 'Conv2D') {
      const [kh, kw, cin, cout] = shapes[0];
      const w = check.take(`${layer.name}.weight`, [cout, cin, kh, kw]);
      const b = check.take(`${layer.name}.bias`, [cout]);
      if (w && b) make = () => [tf.tidy(() => tf.tensor4d(w.data!, [cout, cin, kh, kw]).transpose([2, 3, 1, 0])), tf.tensor1d(b.data!)];
    } else if (layer.getClassName() === 'BatchNormalization') {
      const ts = ['weight', 'bias', 'running_mean', 'running_var'].map((n) => check.take(`${layer.name}.${n}`, shapes[0]));
      if (ts.every(Boolean)) make = () => ts.map((t) => tf.tensor1d(t!.data!));
    } else if (layer.getClassName() === 'Dense') {
      make = denseFrom(check, layer, layer.name);
    } else throw new Error(`the simple CNN's layer "${layer.name}" (${layer.getClassName()}) has no PyTorch counterpart`);
    if (make) plan.push([layer, make]);
  }
  const problems = check.problems([...state.keys()].filter((k) => !check.used.has(k) && !IGNORED.test(k)));
  if (problems.length) throw new ClusterImportError(`model.pth does not fit the studio's simple_cnn: ${problems.join(' — ')}`, problems);
  setAll(plan);
}

function setAll(plan: [tf.layers.Layer, () => tf.Tensor[]][]): void {
  for (const [layer, make] of plan) {
    const tensors = make();
    try {
      layer.setWeights(tensors);
    } finally {
      tf.dispose(tensors);
    }
  }
}

/** Where torchvision keeps the classifier a from-scratch catalog architecture's `logits` layer maps to. */
const TORCHVISION_CLASSIFIER: Record<string, string> = { resnet18: 'fc', resnet50: 'fc', efficientnet_b0: 'classifier.1', vit_b16: 'heads.head', swin_t: 'head', swin_s: 'head' };
const STUDIO_HEAD = 'studio_head.';
/** torchvision's own classifiers, which the contract leaves out of a backbone's state_dict. */
const TORCHVISION_HEAD = /^(?:fc|classifier|heads|head)\./;

/** WeightMappingError's lists as the problems of one refusal. */
const mappingProblems = (err: WeightMappingError, rename: (k: string) => string = (k) => k): string[] => [
  ...(err.missing.length ? [`missing ${err.missing.length}: ${err.missing.map(rename).join(', ')}`] : []),
  ...(err.wrongShape.length ? [`wrong shape ${err.wrongShape.length}: ${err.wrongShape.map(rename).join('; ')}`] : []),
  ...(err.extra.length ? [`not in the model ${err.extra.length}: ${err.extra.map(rename).join(', ')}`] : []),
];

/**
 * The run's classifier, built as the run builds it (buildModel in workers/models.ts: same architecture, input size,
 * strategy and head), holding model.pth's weights. Every key that is missing, left over or misshapen is named in
 * one ClusterImportError before anything is kept. Dispose the returned model.
 */
export function clusterClassifier(run: RunRecord, state: StateDict, zoo: Zoo): tf.LayersModel {
  if (!run.input) throw new ClusterImportError(`run ${run.runId} was trained before the studio recorded its model input, so its network cannot be rebuilt; train it again`);
  const entry = zoo.entry(run.model);
  const architecture = clusterArchitecture(entry);
  const { imageSize, channels } = run.input;
  const numClasses = run.classes.length;
  const seed = run.config.seed;
  if (architecture === 'simple_cnn') {
    const model = buildSimpleCnn({ imageSize, channels, numClasses, seed });
    return withModel(model, () => loadSimpleCnn(model, state));
  }
  if (run.strategy === 'scratch') {
    // The whole torchvision network, its classifier under the studio's name.
    const classifier = TORCHVISION_CLASSIFIER[architecture];
    const toTorch = (k: string) => (k.startsWith(STUDIO_HEAD + 'logits.') ? `${classifier}.${k.slice(STUDIO_HEAD.length + 'logits.'.length)}` : k);
    const fromTorch = (k: string) => (k.startsWith(`${classifier}.`) ? `${STUDIO_HEAD}logits.${k.slice(classifier.length + 1)}` : k);
    const renamed: StateDict = new Map([...state].filter(([k]) => !TORCHVISION_HEAD.test(k)).map(([k, t]) => [toTorch(k), t]));
    const strays = [...state.keys()].filter((k) => TORCHVISION_HEAD.test(k));
    const model = buildArchitecture(entry.id, { imageSize, channels, numClasses, seed });
    return withModel(model, () => {
      try {
        if (strays.length) throw new ClusterImportError(`model.pth does not fit the studio's ${architecture}: not in the model ${strays.length}: ${strays.join(', ')} (the classifier goes under ${STUDIO_HEAD}logits)`);
        loadTorchvisionWeights(model, architecture, renamed);
      } catch (err) {
        if (err instanceof WeightMappingError) {
          const problems = mappingProblems(err, fromTorch);
          throw new ClusterImportError(`model.pth does not fit the studio's ${architecture}: ${problems.join(' — ')}`, problems);
        }
        throw err;
      }
    });
  }
  const backbone = torchvisionBackbone(entry, null, imageSize);
  const problems: string[] = [];
  try {
    // The backbone's keys alone: torchvision's classifier keys would be allowed there, so they are refused here.
    const backboneState: StateDict = new Map([...state].filter(([k]) => !k.startsWith(STUDIO_HEAD) && !TORCHVISION_HEAD.test(k)));
    try {
      loadTorchvisionWeights(backbone.model, architecture, backboneState);
    } catch (err) {
      if (!(err instanceof WeightMappingError)) throw err;
      problems.push(...mappingProblems(err));
    }
    const strategy = run.strategy as StrategyName;
    const built = buildClassifier(backbone, { strategy, numClasses, seed, ...(strategy === 'finetune' ? { trainableBlocks: resolveTrainConfig(run.config).trainableBlocks } : {}) });
    return withModel(built.model, () => {
      const check = new KeyCheck(state);
      const plan: [tf.layers.Layer, () => tf.Tensor[]][] = [];
      for (const name of built.headLayers) {
        const layer = built.model.getLayer(name);
        if (layer.weights.length === 0) continue;
        const make = denseFrom(check, layer, `${STUDIO_HEAD}${name}`);
        if (make) plan.push([layer, make]);
      }
      const strays = [...state.keys()].filter((k) => (k.startsWith(STUDIO_HEAD) && !check.used.has(k)) || TORCHVISION_HEAD.test(k));
      problems.push(...check.problems(strays));
      if (problems.length) throw new ClusterImportError(`model.pth does not fit the studio's ${architecture} with the ${run.strategy} strategy's head: ${problems.join(' — ')}`, problems);
      setAll(plan);
    });
  } finally {
    backbone.model.dispose();
  }
}

/** Runs `load` on a fresh model, disposing the model when it throws. */
function withModel(model: tf.LayersModel, load: () => void): tf.LayersModel {
  try {
    load();
    return model;
  } catch (err) {
    model.dispose();
    throw err;
  }
}
