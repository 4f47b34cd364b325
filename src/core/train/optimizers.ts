import * as tf from '@tensorflow/tfjs';

/** TF.js's NamedTensor, which its public index does not export. */
type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

/**
 * An optimiser with per-variable state ("slots", e.g. Adam's m and v) that can be saved and restored.
 *
 * Slots are keyed by variable name rather than by position (as TF.js's own optimisers do), so that a change in
 * the set of trainable variables mid-run (partial unfreezing, "linear probe, then fine-tune") cannot pair a
 * variable with another one's state.
 */
abstract class SlotOptimizer extends tf.Optimizer {
  /** Public and read on every step, so a schedule may change it between steps. */
  learningRate: number;
  readonly epsilon: number;
  private slots = new Map<string, tf.Variable[]>();

  constructor(
    learningRate: number,
    epsilon: number | undefined,
    private readonly slotNames: readonly string[],
  ) {
    super();
    this.learningRate = learningRate;
    // The backend's epsilon (1e-7, or 1e-4 on 16-bit WebGL textures): a smaller ε can round to 0 there, and a zero
    // gradient's update become 0/0.
    this.epsilon = epsilon ?? tf.backend().epsilon();
  }

  /** Updates `value` and its slots (initially zeros) in place, inside a tidy; `t` counts steps from 1. */
  protected abstract update(value: tf.Variable, gradient: tf.Tensor, slots: tf.Variable[], t: number): void;

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: [string, tf.Tensor | null | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor])
      : Object.entries(variableGradients);
    const t = this.iterations + 1;
    // One tidy per variable: an update's temporaries (several copies of the variable) are freed before the next
    // variable's, so the step's peak memory is the largest variable's, not the whole model's several times over.
    for (const [name, gradient] of entries) {
      if (gradient == null) continue;
      const value = tf.engine().registeredVariables[name];
      tf.tidy(() => {
        let slots = this.slots.get(name);
        if (!slots) {
          slots = this.slotNames.map(() => tf.zerosLike(value).variable(false));
          this.slots.set(name, slots);
        }
        this.update(value, gradient, slots, t);
      });
    }
    this.incrementIterations();
  }

  override dispose(): void {
    for (const vars of this.slots.values()) tf.dispose(vars);
    this.slots.clear();
  }

  /**
   * `iter`, then each slot of every variable as `<variable>/<slot>`, slot by slot (Keras's order). The slot
   * tensors are the optimiser's own variables: read them, never dispose them; `iter` is new and the caller's.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const names = [...this.slots.keys()];
    return [await this.saveIterations(), ...this.slotNames.flatMap((slot, k) => names.map((n) => ({ name: `${n}/${slot}`, tensor: this.slots.get(n)![k] })))];
  }

  /** Replaces all state with `getWeights()` output; the variable names must be those of the model being trained. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const byVariable = new Map<string, (tf.Tensor | undefined)[]>();
    for (const { name, tensor } of rest) {
      const cut = name.lastIndexOf('/');
      const k = this.slotNames.indexOf(name.slice(cut + 1));
      if (cut < 0 || k < 0) throw new Error(`${this.getClassName()} state has an unexpected entry "${name}"`);
      const entry = byVariable.get(name.slice(0, cut)) ?? this.slotNames.map(() => undefined);
      entry[k] = tensor;
      byVariable.set(name.slice(0, cut), entry);
    }
    const restored = new Map<string, tf.Variable[]>();
    for (const [name, tensors] of byVariable) {
      const missing = this.slotNames.filter((_, k) => !tensors[k]);
      if (missing.length > 0) throw new Error(`${this.getClassName()} state for "${name}" lacks ${missing.join(', ')}`);
      restored.set(name, tensors.map((x) => x!.variable(false)));
    }
    this.dispose();
    this.slots = restored;
  }
}

type NumericCtor<T> = new (...args: number[]) => T;

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"):
 * w ← w − lr·(m̂/(√v̂ + ε) + λ·w), with m̂ and v̂ bias-corrected. The decay is applied to every variable it is
 * given gradients for, as PyTorch's AdamW does by default.
 */
export class AdamWOptimizer extends SlotOptimizer {
  static get className(): string {
    return 'AdamW';
  }

  constructor(
    learningRate: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    epsilon?: number,
    readonly weightDecay = 0.01,
  ) {
    super(learningRate, epsilon, ['m', 'v']);
  }

  protected update(value: tf.Variable, gradient: tf.Tensor, [m, v]: tf.Variable[], t: number): void {
    const newM = m.mul(this.beta1).add(gradient.mul(1 - this.beta1));
    const newV = v.mul(this.beta2).add(gradient.square().mul(1 - this.beta2));
    m.assign(newM);
    v.assign(newV);
    // Bias corrections in float64: TF.js's Adam keeps β^t in float32 and loses digits in 1 − β2^t.
    const step = newM.div(1 - this.beta1 ** t).div(newV.div(1 - this.beta2 ** t).sqrt().add(this.epsilon));
    value.assign(value.sub(step.add(value.mul(this.weightDecay)).mul(this.learningRate)));
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const c = config as Record<string, number>;
    return new (cls as unknown as NumericCtor<T>)(c.learningRate, c.beta1, c.beta2, c.epsilon, c.weightDecay);
  }
}

/**
 * Adamax (Kingma & Ba, §7.1): u ← max(β2·u, |g|), w ← w − lr/(1 − β1^t) · m/(u + ε); the same update as
 * `tf.train.adamax`, whose state TF.js cannot save (its getWeights and setWeights throw), which checkpoints need.
 */
export class CheckpointableAdamax extends SlotOptimizer {
  static get className(): string {
    return 'CheckpointableAdamax';
  }

  constructor(
    learningRate: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    epsilon?: number,
  ) {
    super(learningRate, epsilon, ['m', 'u']);
  }

  protected update(value: tf.Variable, gradient: tf.Tensor, [m, u]: tf.Variable[], t: number): void {
    const newM = m.mul(this.beta1).add(gradient.mul(1 - this.beta1));
    const newU = tf.maximum(u.mul(this.beta2), gradient.abs());
    m.assign(newM);
    u.assign(newU);
    value.assign(value.sub(newM.div(newU.add(this.epsilon)).mul(this.learningRate / (1 - this.beta1 ** t))));
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const c = config as Record<string, number>;
    return new (cls as unknown as NumericCtor<T>)(c.learningRate, c.beta1, c.beta2, c.epsilon);
  }
}

tf.serialization.registerClass(AdamWOptimizer);
tf.serialization.registerClass(CheckpointableAdamax);

export type OptimizerName = 'adamw' | 'adam' | 'adamax' | 'sgd';

export interface OptimizerOptions {
  name: OptimizerName;
  learningRate: number;
  /** AdamW only (default 0.01); a positive value for another optimiser is an error rather than silently ignored. */
  weightDecay?: number;
  /** SGD only (default 0.9). */
  momentum?: number;
  beta1?: number;
  beta2?: number;
}

/**
 * TF.js 4.22's momentum optimiser, whose dispose() frees the momentum and the accumulators but not the learning-rate
 * scalar it inherits from SGD: one tensor left behind per optimiser, so per phase (and per compile-ahead trace).
 */
class DisposingMomentum extends tf.MomentumOptimizer {
  override dispose(): void {
    super.dispose();
    this.c.dispose();
  }
}

export function createOptimizer(opts: OptimizerOptions): tf.Optimizer {
  const { name, learningRate: lr, beta1 = 0.9, beta2 = 0.999 } = opts;
  if (name !== 'adamw' && (opts.weightDecay ?? 0) > 0) throw new RangeError(`weight decay needs AdamW, not ${name}`);
  switch (name) {
    case 'adamw':
      return new AdamWOptimizer(lr, beta1, beta2, undefined, opts.weightDecay ?? 0.01);
    case 'adam':
      return tf.train.adam(lr, beta1, beta2);
    case 'adamax':
      return new CheckpointableAdamax(lr, beta1, beta2);
    case 'sgd':
      return new DisposingMomentum(lr, opts.momentum ?? 0.9);
  }
}

/** TF.js's Adam reads this protected field on every step (as ours do); SGD and momentum cache it in a scalar instead. */
interface WithLearningRate {
  learningRate: number;
}

export function setLearningRate(opt: tf.Optimizer, lr: number): void {
  // Duck-typed: tf.Optimizer's Symbol.hasInstance makes `instanceof tf.SGDOptimizer` true for every optimiser.
  const sgd = opt as Partial<Pick<tf.SGDOptimizer, 'setLearningRate'>>;
  if (typeof sgd.setLearningRate === 'function') sgd.setLearningRate(lr);
  else (opt as unknown as WithLearningRate).learningRate = lr;
}

export function getLearningRate(opt: tf.Optimizer): number {
  return (opt as unknown as WithLearningRate).learningRate;
}
