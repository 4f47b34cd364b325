/**
 * The engine's one lock: work that uses the active backend, or that must not overlap other work, claims the engine
 * by kind and id and releases it when done. One table (RULES) says which kinds may overlap, which wait for one
 * another, and how a refusal is worded (E_BUSY), so no method keeps a busy flag of its own.
 */
import { EngineError } from '../src/engine/errors';

/**
 * Held while the work runs: a run training (its id), an evaluation (the run's id, or 'model' for a registered
 * model), Grad-CAM, a speed probe or backend measurement, a cross-validation (its id), a prediction, an import.
 */
export type HeldKind = 'train' | 'evaluate' | 'gradcam' | 'probe' | 'crossval' | 'predict' | 'import';

/** Only checked, never held: switching the backend, a run deleted or exported (by id), backbone weights and ONNX imports, a cluster run imported. */
export type CheckedKind = 'init' | 'delete' | 'export' | 'weights' | 'onnx' | 'cluster';

export type ClaimKind = HeldKind | CheckedKind;

export interface Claim {
  kind: HeldKind;
  id: string;
  /** The cross-validation a fold's run or evaluation belongs to: that one does not refuse it. */
  partOf?: string;
}

/** 'share': both run at once; 'wait': the newcomer waits until the holder is done; else the refusal's words. */
type Rule = 'share' | 'wait' | ((held: Claim, wanted: { id?: string; partOf?: string }) => string | null);

/** What the holder is doing, as a refusal says it. */
function doing(h: Claim): string {
  switch (h.kind) {
    case 'train':
      return `run ${h.id} is training`;
    case 'evaluate':
      return h.id === 'model' ? 'a model is being evaluated' : `run ${h.id} is being evaluated`;
    case 'gradcam':
      return 'a Grad-CAM map is being computed';
    case 'probe':
      return 'a speed probe is running';
    case 'crossval':
      return `cross-validation ${h.id} is running`;
    case 'predict':
      return 'a prediction is running';
    case 'import':
      return 'an import is already running';
  }
}

/** Refused whatever the holder is, with the holder's activity and what to do. */
const refuse =
  (advice: string): Rule =>
  (h) =>
    `${doing(h)}; ${advice}`;

/** Refused only by the holder of the same id (a run deleted or exported while it trains or is evaluated). */
const refuseSame =
  (advice: string): Rule =>
  (h, wanted) =>
    h.id === wanted.id ? `${doing(h)}; ${advice}` : null;

/** A cross-validation lets its own folds train and be evaluated, and nothing else that trains or evaluates. */
const unlessOwnFold =
  (advice: string): Rule =>
  (h, wanted) =>
    wanted.partOf === h.id ? null : `${doing(h)}; ${advice}`;

/**
 * RULES[wanted][held]. Training, evaluation and Grad-CAM switch the active backend under their own tensors, so they
 * exclude one another and predictions; a run waits for a speed probe in flight (both switch backends), and a probe
 * is refused while a run trains, since it would slow the run and measure a shared device.
 */
export const RULES: Record<ClaimKind, Record<HeldKind, Rule>> = {
  train: {
    train: refuse('cancel it or wait for it to finish'),
    evaluate: refuse('cancel it or wait for it to finish'),
    gradcam: refuse('train when it has finished'),
    probe: 'wait',
    crossval: unlessOwnFold('cancel it or wait for it to finish'),
    predict: refuse('train when it has finished'),
    import: 'share',
  },
  evaluate: {
    train: refuse('wait for it to finish'),
    evaluate: refuse('wait for it to finish'),
    gradcam: refuse('wait for it to finish'),
    probe: 'share',
    crossval: unlessOwnFold('cancel it or wait for it to finish'),
    predict: refuse('evaluate when it has finished'),
    import: 'share',
  },
  gradcam: {
    train: refuse('wait for it to finish'),
    evaluate: refuse('wait for it to finish'),
    gradcam: refuse('wait for it to finish'),
    probe: 'share',
    crossval: 'share',
    predict: 'share',
    import: 'share',
  },
  probe: {
    train: refuse('measure when it has finished'),
    evaluate: refuse('measure when it has finished'),
    gradcam: refuse('measure when it has finished'),
    probe: 'wait',
    crossval: 'share',
    predict: 'share',
    import: 'share',
  },
  crossval: {
    train: refuse('wait for it to finish'),
    evaluate: refuse('wait for it to finish'),
    gradcam: refuse('wait for it to finish'),
    probe: 'share',
    crossval: refuse('wait for it to finish'),
    predict: 'share',
    import: 'share',
  },
  predict: {
    train: refuse('predict when it has finished'),
    evaluate: refuse('predict when it has finished'),
    gradcam: refuse('predict when it has finished'),
    probe: 'share',
    crossval: 'share',
    predict: refuse('predict when it has finished'),
    import: 'share',
  },
  import: {
    train: 'share',
    evaluate: 'share',
    gradcam: 'share',
    probe: 'share',
    crossval: 'share',
    predict: 'share',
    import: refuse('wait for it to finish'),
  },
  init: {
    train: refuse('cancel it before switching the backend'),
    evaluate: refuse('cancel it before switching the backend'),
    gradcam: refuse('switch the backend when it has finished'),
    probe: 'share',
    crossval: 'share',
    predict: 'share',
    import: 'share',
  },
  delete: {
    train: refuseSame('cancel it before deleting it'),
    evaluate: refuseSame('cancel it before deleting it'),
    gradcam: 'share',
    probe: 'share',
    crossval: 'share',
    predict: 'share',
    import: 'share',
  },
  export: {
    train: refuseSame('export it when it has stopped'),
    evaluate: refuseSame('export it when it has stopped'),
    gradcam: 'share',
    probe: 'share',
    crossval: 'share',
    predict: 'share',
    import: 'share',
  },
  weights: {
    train: refuse('pick the weights file when it has finished'),
    evaluate: refuse('pick the weights file when it has finished'),
    gradcam: refuse('pick the weights file when it has finished'),
    probe: 'share',
    crossval: 'share',
    predict: 'share',
    import: 'share',
  },
  onnx: {
    train: refuse('import the ONNX backbone when it has finished'),
    evaluate: refuse('import the ONNX backbone when it has finished'),
    gradcam: refuse('import the ONNX backbone when it has finished'),
    probe: 'share',
    crossval: 'share',
    predict: 'share',
    import: 'share',
  },
  cluster: {
    train: 'share',
    evaluate: 'share',
    gradcam: 'share',
    probe: 'share',
    crossval: refuse('cancel it or wait for it to finish'),
    predict: 'share',
    import: 'share',
  },
};

interface Holder extends Claim {
  released: Promise<void>;
}

/** A claim made: held from the moment `claim` returns; `ready` settles once the holders it waits for are done. */
export interface Claimed {
  /** Rejects with E_BUSY (and gives the claim back) when one that refuses it started while it waited. */
  ready: Promise<void>;
  /** Gives the claim back; calling it again does nothing. */
  release(): void;
}

export class Claims {
  private readonly holders: Holder[] = [];

  /**
   * The refusal `kind` would meet from the holders now (but `self`), or null. The newest holder speaks first: a
   * fold's run refuses in its own words rather than its cross-validation's.
   */
  refusal(kind: ClaimKind, id?: string, partOf?: string, self?: Holder): string | null {
    for (const h of [...this.holders].reverse()) {
      const rule = RULES[kind][h.kind];
      const said = h !== self && typeof rule === 'function' ? rule(h, { id, partOf }) : null;
      if (said) return said;
    }
    return null;
  }

  /** E_BUSY when `kind` may not start now; nothing is held. */
  check(kind: ClaimKind, id?: string, partOf?: string): void {
    const said = this.refusal(kind, id, partOf);
    if (said) throw new EngineError('E_BUSY', said);
  }

  /**
   * Claims the engine for `kind`, synchronously: E_BUSY at once when a holder refuses it; otherwise it is held from
   * now on, so a claim made meanwhile meets it. Await `ready` before the work, and release it in a `finally`.
   */
  claim(kind: HeldKind, id: string, partOf?: string): Claimed {
    const refused = this.refusal(kind, id, partOf);
    if (refused) throw new EngineError('E_BUSY', refused);
    const earlier = this.holders.filter((h) => RULES[kind][h.kind] === 'wait');
    let done!: () => void;
    const holder: Holder = { kind, id, partOf, released: new Promise<void>((resolve) => (done = resolve)) };
    this.holders.push(holder);
    const release = () => {
      const at = this.holders.indexOf(holder);
      if (at >= 0) this.holders.splice(at, 1);
      done();
    };
    const ready = (async () => {
      for (const h of earlier) {
        await h.released;
        const said = this.refusal(kind, id, partOf, holder);
        if (said) {
          release();
          throw new EngineError('E_BUSY', said);
        }
      }
    })();
    // A claim given back before it was awaited must not leave an unhandled rejection behind.
    ready.catch(() => undefined);
    return { ready, release };
  }

  /** The newest holder of one of these kinds, if any. */
  held(...kinds: HeldKind[]): Claim | undefined {
    return [...this.holders].reverse().find((h) => kinds.includes(h.kind));
  }
}
