/** The evaluation panel's state: one evaluation at a time, through the Engine interface only. */
import { eventSink, type EngineProxy } from '../engine/client';
import type { EvaluateEvent, EvaluateRequest, EvaluationRecord } from '../engine/types';
import { tracked, type ShownError } from './shown-error';

export class EvaluationState {
  running = $state(false);
  progress = $state<{ phase: string; done: number; total: number } | null>(null);
  error = $state<ShownError | null>(null);
  // Raw: a report is replaced whole, never edited, and its per-image predictions need no deep reactivity.
  result = $state.raw<EvaluationRecord | null>(null);

  constructor(private readonly engine: EngineProxy) {}

  evaluate(req: EvaluateRequest, onEvent?: (e: EvaluateEvent) => void): Promise<EvaluationRecord> {
    return tracked(this, async () => {
      const result = await this.engine.evaluate(
        req,
        eventSink((e: EvaluateEvent) => {
          if (e.type === 'progress') this.progress = { phase: e.phase, done: e.done, total: e.total };
          onEvent?.(e);
        }),
      );
      this.result = result;
      return result;
    });
  }

  /** Shows a run's stored evaluation, if it has one. */
  async load(runId: string): Promise<void> {
    this.error = null;
    this.result = await this.engine.evaluation(runId);
  }

  cancel(runId: string): Promise<void> {
    return this.engine.cancel(runId);
  }
}
