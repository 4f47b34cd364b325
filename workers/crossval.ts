/**
 * k-fold cross-validation: one ordinary run per fold (its config names the fold, so the engine's `prepare` gives it
 * the fold's split and resume and evaluate rebuild the same), each evaluated with its best checkpoint on its held-out
 * fold. The runs stay in the runs list, tagged with the cross-validation's id.
 */
import { meanStd } from '../src/core/metrics/kfold';
import type { CrossValidationEvent, CrossValidationResult, EvaluateEvent, EvaluateRequest, EvaluationRecord, FoldResult, RunRecord, TrainConfig, TrainEvent } from '../src/engine/types';

export interface CrossValidationHost {
  train(cfg: TrainConfig, onEvent: (e: TrainEvent) => void): Promise<RunRecord>;
  evaluate(req: EvaluateRequest, onEvent: (e: EvaluateEvent) => void): Promise<EvaluationRecord>;
  stopped(): boolean;
}

/** Latency is not what cross-validation measures: a few images keep each fold's evaluation short. */
const LATENCY_SAMPLES = 5;

/**
 * @param onEvent across comlink a call returns a promise once the page has run it: `start`, `fold` and `done` are
 * awaited, because the callback's messages travel on their own port and could otherwise arrive after the result.
 */
export async function crossValidate(host: CrossValidationHost, id: string, config: TrainConfig, folds: number, onEvent: (e: CrossValidationEvent) => void | Promise<void>): Promise<CrossValidationResult> {
  await onEvent({ type: 'start', id, folds });
  const results: FoldResult[] = [];
  let status: CrossValidationResult['status'] = 'completed';
  for (let fold = 1; fold <= folds; fold++) {
    if (host.stopped()) {
      status = 'cancelled';
      break;
    }
    const run = await host.train({ ...config, crossValidation: { id, folds, fold } }, (event) => {
      if (event.type !== 'batch') void onEvent({ type: 'train', fold, event });
    });
    if (run.status !== 'completed' || host.stopped()) {
      status = 'cancelled';
      break;
    }
    let ev: EvaluationRecord;
    try {
      ev = await host.evaluate({ runId: run.runId, latencySamples: LATENCY_SAMPLES }, (event) => void onEvent({ type: 'evaluate', fold, event }));
    } catch (err) {
      // A cancel during the fold's evaluation ends the cross-validation like one during its training.
      if (!host.stopped()) throw err;
      status = 'cancelled';
      break;
    }
    const result: FoldResult = {
      fold,
      runId: run.runId,
      split: run.split,
      bestEpoch: run.best?.epoch ?? null,
      bestValAccuracy: run.best?.valAccuracy ?? null,
      accuracy: ev.metrics.report.accuracy,
      macroF1: ev.metrics.report.macro.f1,
    };
    results.push(result);
    await onEvent({ type: 'fold', result });
  }
  const summary = (pick: (r: FoldResult) => number) => (results.length ? meanStd(results.map(pick)) : null);
  const result: CrossValidationResult = { id, folds, status, model: config.model, results, accuracy: summary((r) => r.accuracy), macroF1: summary((r) => r.macroF1) };
  await onEvent({ type: 'done', result });
  return result;
}
