/** The backend measurements (see workers/measure.ts) as the settings show them: stored figures, one in progress, Re-measure. */
import type { EngineProxy } from '../engine/client';
import { eventSink } from '../engine/client';
import type { BackendMeasurement, MeasureProgress, TrainConfig } from '../engine/types';
import { describeError, type ShownError } from './shown-error';

export class MeasurementsState {
  list = $state.raw<BackendMeasurement[]>([]);
  /** The backend being timed, by a run's first auto training or a Re-measure. */
  progress = $state<MeasureProgress | null>(null);
  /** The key being re-measured ('' for a first measurement of a config). */
  measuring = $state<string | null>(null);
  error = $state<ShownError | null>(null);

  constructor(private readonly engine: EngineProxy) {}

  async refresh(): Promise<void> {
    this.list = await this.engine.backendMeasurements().catch(() => this.list);
  }

  /** Measures a config, or re-measures a stored measurement by key; the figures replace the stored ones. */
  async measure(target: TrainConfig | { key: string }): Promise<BackendMeasurement> {
    this.measuring = 'key' in target ? target.key : '';
    this.error = null;
    try {
      const measured = await this.engine.measureBackends(target, eventSink((p: MeasureProgress) => (this.progress = p)));
      await this.refresh();
      return measured;
    } catch (err) {
      this.error = describeError(err);
      throw err;
    } finally {
      this.measuring = null;
      this.progress = null;
    }
  }
}
