/**
 * Conference mode: a locked, guided flow for a projector and a queue of visitors, chosen with `?conference` in the
 * URL. Its few settings come from the URL too, so whoever runs the stand fixes them once in a bookmark:
 * `?conference&epochs=5&size=32&reset=30`.
 */
import type { TrainConfig } from '../engine/types';

export interface ConferenceSettings {
  epochs: number;
  imageSize: number;
  perClass: number;
  /** Seconds the result stays on screen before the studio resets for the next visitor. */
  resetSeconds: number;
}

export const CONFERENCE_DEFAULTS: ConferenceSettings = { epochs: 5, imageSize: 32, perClass: 80, resetSeconds: 30 };

/** Null when the URL does not ask for conference mode; out-of-range values fall back to the defaults. */
export function conferenceSettings(search: string): ConferenceSettings | null {
  const q = new URLSearchParams(search);
  if (!q.has('conference')) return null;
  const pick = (key: string, fallback: number, min: number, max: number): number => {
    const v = Number(q.get(key));
    return q.has(key) && Number.isInteger(v) && v >= min && v <= max ? v : fallback;
  };
  return {
    epochs: pick('epochs', CONFERENCE_DEFAULTS.epochs, 1, 50),
    imageSize: pick('size', CONFERENCE_DEFAULTS.imageSize, 16, 64),
    perClass: pick('per-class', CONFERENCE_DEFAULTS.perClass, 10, 500),
    resetSeconds: pick('reset', CONFERENCE_DEFAULTS.resetSeconds, 3, 600),
  };
}

/**
 * The demo recipe the stand (and `npm run bench -- --only demo`) trains: the simple CNN from scratch on the built-in
 * phantoms with clear lesions (see DemoLesions), so a visitor sees it pass 90 % within a minute on a laptop CPU.
 * Early stopping is off: a visitor watches every epoch they were promised.
 */
export function demoRecipe(settings: ConferenceSettings, seed: number): TrainConfig {
  return {
    dataset: { kind: 'demo', seed, imageSize: settings.imageSize, perClass: settings.perClass, split: { train: 0.7, val: 0.15, test: 0.15 }, lesions: 'clear' },
    model: 'simple_cnn',
    strategy: 'scratch',
    epochs: settings.epochs,
    // Tuned on a 2-core CPU (SwiftShader, routed to WebGL): batches of 16 at 5e-3, decaying on a cosine so the last
    // epochs settle instead of swinging; 80 images per class keep 36 for validation, so one image is under 3 %.
    batchSize: 16,
    learningRate: 0.005,
    lrSchedule: { kind: 'cosine', warmup: 0, unit: 'epoch' },
    seed,
    earlyStopping: null,
  };
}
