/**
 * The hook the headless CLI drives: the same `Studio` object the buttons use, so a CLI run goes through the same
 * worker and engine as a click. Events are forwarded to `window.onStudioEvent` when the driver has exposed one.
 */
import type { BackendInfo, RunRecord, TrainConfig, TrainEvent } from './engine/types';
import type { BackendChoice, Studio } from './ui/studio.svelte';

export interface StudioAutomation {
  ready(): Promise<BackendInfo>;
  selectBackend(choice: BackendChoice): Promise<BackendInfo>;
  train(cfg: TrainConfig): Promise<RunRecord>;
}

declare global {
  interface Window {
    studio?: StudioAutomation;
    onStudioEvent?: (e: TrainEvent) => void;
  }
}

export function exposeAutomation(studio: Studio): void {
  const settled = async (): Promise<BackendInfo> => {
    while (!studio.backend && !studio.backendError) await new Promise((r) => setTimeout(r, 50));
    if (studio.backendError) throw new Error(`${studio.backendError.code}: ${studio.backendError.message}${studio.backendError.detail ? ` (${studio.backendError.detail})` : ''}`);
    return JSON.parse(JSON.stringify(studio.backend)) as BackendInfo;
  };
  window.studio = {
    ready: settled,
    async selectBackend(choice) {
      await studio.selectBackend(choice);
      return settled();
    },
    train: (cfg) => studio.train(cfg, (e) => window.onStudioEvent?.(e)),
  };
}
