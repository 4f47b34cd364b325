import type { StudioAutomation } from './engine/automation';
import { eventSink, type EngineProxy } from './engine/client';
import { EngineError } from './engine/errors';
import type { BackendInfo, DatasetSummary, EvaluateEvent, FolderScan, RecommendedRecipe } from './engine/types';
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
    measureBackends: (target) => studio.measurements.measure(target),
    backendMeasurements: () => engine.backendMeasurements(),
    async importClusterRun(sourceRunId, files) {
      const run = await engine.importClusterRun(sourceRunId, files);
      await studio.runs.refresh();
      return run;
    },
    evaluate: (req) => studio.evaluation.evaluate(req, (e) => window.onStudioEvent?.(e)),
    async evaluateExternal(runId, req) {
      const run = (await engine.runs()).find((r) => r.runId === runId);
      if (!run) throw new Error(`E_NOT_FOUND: there is no run ${runId} in this profile`);
      return studio.evaluateExternal(run, req, (e) => window.onStudioEvent?.(e));
    },
    evaluateModel: (req) => engine.evaluateModel(req, eventSink((e: EvaluateEvent) => window.onStudioEvent?.(e))),
    evaluationReport: (runId, opts) => engine.evaluationReport(runId, opts),
    zoo: () => engine.zoo(),
    readConfig: (text) => engine.readConfig(text),
    crossValidate: (req) => studio.runs.crossValidate(req.config, req.folds ?? 5, (e) => window.onStudioEvent?.(e)),
    register: (req) => engine.register(req),
    exportModel: (ref, format, opts) => engine.exportModel(ref, format, opts),
    exportRecipe: (runId, opts) => engine.exportRecipe(runId, opts),
    async predictPicked(ref) {
      if (studio.inference.images.length === 0) throw new Error('E_NOT_FOUND: no images were given to the inference panel');
      // choose() classifies the picked images with the ref (it throws the engine's error when it cannot).
      const result = (await studio.inference.choose(ref))!;
      return { result, csv: await studio.inference.predictionsCsv() };
    },
    importOnnxBackbone: (req) => studio.importOnnxBackbone(req),
    importBackbone: (id, input) => studio.engine.importBackbone(id, input),
    async scanFolder(input) {
      const scan = await studio.scanFolder(input);
      if (!scan) throw new Error(`${studio.scanError?.code}: ${studio.scanError?.message}`);
      return JSON.parse(JSON.stringify(scan)) as FolderScan;
    },
    async recommendRecipe() {
      if (!studio.lastScan) throw new Error('E_DATASET: no folder was given to the page');
      if (!(await studio.lastScan)) throw new Error(`${studio.scanError?.code}: ${studio.scanError?.message}`);
      return JSON.parse(JSON.stringify(await studio.recommend())) as RecommendedRecipe;
    },
    async importFolder(opts) {
      if (!studio.lastScan) throw new Error('E_DATASET: no folder was given to the page');
      const scan = await studio.lastScan;
      if (!scan) throw new Error(`${studio.scanError?.code}: ${studio.scanError?.message}`);
      const summary = await studio.importDataset(opts, (e) => window.onStudioEvent?.(e));
      return JSON.parse(JSON.stringify(summary)) as DatasetSummary;
    },
  };
  window.studio = withCodesInMessages(automation);
}

/**
 * A driver reads a rejection through page.evaluate, which keeps only its message: an EngineError's code goes in front
 * of the message ("E_WORKER_LOST: the engine worker stopped: …"), as the UI shows it, so the CLI prints the same
 * code. It also stays on the error's `code` for a caller inside the page.
 */
function withCodesInMessages(api: StudioAutomation): StudioAutomation {
  const coded = Object.entries(api).map(([name, call]) => [
    name,
    async (...args: unknown[]) => {
      try {
        return await (call as (...a: unknown[]) => unknown)(...args);
      } catch (err) {
        if (err instanceof EngineError && !err.message.startsWith(`${err.code}:`)) throw new EngineError(err.code, `${err.code}: ${err.message}`, err.detail);
        throw err;
      }
    },
  ]);
  return Object.fromEntries(coded) as StudioAutomation;
}
