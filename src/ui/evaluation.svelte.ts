/** The evaluation panel's state: one evaluation at a time, through the Engine interface only. */
import { eventSink, type EngineProxy } from '../engine/client';
import type { EvaluateEvent, EvaluateRequest, EvaluationRecord } from '../engine/types';
import { describeError, type ShownError } from './studio.svelte';

export class EvaluationState {
  running = $state(false);
  progress = $state<{ phase: string; done: number; total: number } | null>(null);
  error = $state<ShownError | null>(null);
  // Raw: a report is replaced whole, never edited, and its per-image predictions need no deep reactivity.
  result = $state.raw<EvaluationRecord | null>(null);

  constructor(private readonly engine: EngineProxy) {}

  async evaluate(req: EvaluateRequest, onEvent?: (e: EvaluateEvent) => void): Promise<EvaluationRecord> {
    this.running = true;
    this.error = null;
    this.progress = null;
    try {
      const result = await this.engine.evaluate(
        req,
        eventSink((e: EvaluateEvent) => {
          if (e.type === 'progress') this.progress = { phase: e.phase, done: e.done, total: e.total };
          onEvent?.(e);
        }),
      );
      this.result = result;
      return result;
    } catch (err) {
      this.error = describeError(err);
      throw err;
    } finally {
      this.running = false;
      this.progress = null;
    }
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
