import type { StudioAutomation } from './engine/automation';
import type { EngineProxy } from './engine/client';
import type { BackendInfo, DatasetSummary, FolderScan } from './engine/types';
import type { Studio } from './ui/studio.svelte';

/** Installs `window.studio` (see src/engine/automation.ts) over the page's own Studio and engine. */
export function exposeAutomation(studio: Studio, engine: EngineProxy): void {
  const settled = async (): Promise<BackendInfo> => {
    while (!studio.backend && !studio.backendError) await new Promise((r) => setTimeout(r, 50));
    if (studio.backendError) throw new Error(`${studio.backendError.code}: ${studio.backendError.message}${studio.backendError.detail ? ` (${studio.backendError.detail})` : ''}`);
    // A plain copy: the rune state is a proxy, which cannot be sent to the driver.
    return JSON.parse(JSON.stringify(studio.backend)) as BackendInfo;
  };
  const automation: StudioAutomation = {
    ready: settled,
    async selectBackend(choice) {
      await studio.selectBackend(choice);
      return settled();
    },
    train: (cfg) => studio.train(cfg, (e) => window.onStudioEvent?.(e)),
    async resume(runId) {
      const run = (await engine.runs()).find((r) => r.runId === runId);
      if (!run) throw new Error(`E_NOT_FOUND: there is no run ${runId} in this profile`);
      return studio.resume(run, (e) => window.onStudioEvent?.(e));
    },
    runs: () => engine.runs(),
    evaluate: (req) => studio.evaluation.evaluate(req, (e) => window.onStudioEvent?.(e)),
    evaluationReport: (runId) => engine.evaluationReport(runId),
    zoo: () => engine.zoo(),
    importOnnxBackbone: (req) => studio.importOnnxBackbone(req),
    async scanFolder(input) {
      const scan = await studio.scanFolder(input);
      if (!scan) throw new Error(`${studio.scanError?.code}: ${studio.scanError?.message}`);
      return JSON.parse(JSON.stringify(scan)) as FolderScan;
    },
    async importFolder(opts) {
      if (!studio.lastScan) throw new Error('E_DATASET: no folder was given to the page');
      const scan = await studio.lastScan;
      if (!scan) throw new Error(`${studio.scanError?.code}: ${studio.scanError?.message}`);
      const summary = await studio.importDataset(opts, (e) => window.onStudioEvent?.(e));
      return JSON.parse(JSON.stringify(summary)) as DatasetSummary;
    },
  };
  window.studio = automation;
}
