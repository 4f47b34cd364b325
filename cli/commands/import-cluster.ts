/** `import-cluster`: a run trained on a cluster from this studio's recipe, brought back, evaluated and registered. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EvaluationRecord, ModelVersion, RegisterModelRequest, RunRecord } from '../../src/engine/types';
import { COMMON_OPTIONS, UsageError, int, parse, sessionArgs, type SessionArgs } from '../args';
import { pct, writeJson } from '../output';
import { progressPrinter } from '../progress';
import { findRun, importRunFolder, openStudio, recordDataFolder } from '../studio-page';
import { REGISTER_OPTIONS, registerRequest } from './register';

export interface ImportClusterArgs extends SessionArgs {
  sourceRunId: string;
  /** train.py's --out folder: model.pth and metrics.json. */
  dir: string;
  data?: string;
  /** The registration of the new run (its runId filled in once imported); null with --no-register. */
  register: RegisterModelRequest | null;
  latencySamples: number;
}

export function parseImportClusterArgs(argv: string[]): ImportClusterArgs {
  const v = parse(argv, { ...COMMON_OPTIONS, run: { type: 'string' }, dir: { type: 'string' }, data: { type: 'string' }, 'no-register': { type: 'boolean' }, 'latency-samples': { type: 'string' }, ...REGISTER_OPTIONS });
  if (!v.run) throw new UsageError('import-cluster needs --run ID, the browser run whose recipe trained on the cluster (see "runs")');
  if (!v.dir) throw new UsageError('import-cluster needs --dir DIR, the folder train.py wrote (its --out)');
  const dir = resolve(v.dir);
  const lacking = ['model.pth', 'metrics.json'].filter((f) => !existsSync(join(dir, f)));
  if (lacking.length) throw new UsageError(`--dir ${dir}: ${lacking.join(' and ')} ${lacking.length > 1 ? 'are' : 'is'} missing (train.py writes both into its --out folder when it finishes)`);
  if (v['no-register'] && (v.name || v.version)) throw new UsageError('pass --name and --version to register the imported run, or --no-register, not both');
  return {
    ...sessionArgs(v),
    sourceRunId: v.run,
    dir,
    ...(v.data === undefined ? {} : { data: resolve(v.data) }),
    register: v['no-register'] ? null : registerRequest(v, '', 'import-cluster (or --no-register)'),
    latencySamples: int('latency-samples', v['latency-samples'], 100, 1, 10000),
  };
}

/**
 * import-cluster: model.pth and metrics.json become a new run beside the browser run (Engine.importClusterRun), which
 * is then evaluated on the run's test split and, unless --no-register, registered; one studio session for all three.
 * Each step's result is handed to `onStep` as it comes, so an import that a later step cannot finish is still shown.
 */
export function importCluster(args: ImportClusterArgs, onStep: (step: { run: RunRecord } | { evaluation: EvaluationRecord } | { version: ModelVersion }) => void): Promise<void> {
  return openStudio({ ...args, onEvent: progressPrinter(() => Number.NaN) }, async (session) => {
    const { page } = session;
    const source = await findRun(session, args, args.sourceRunId);
    // The page fetches the two files from the CLI's server: a state_dict of hundreds of MB (ViT-B/16) would not pass
    // as a JSON argument.
    const run = await page.evaluate(
      async ({ id, model, metrics }) => window.studio!.engine.importClusterRun(id, { model: await window.studio!.file(model), metrics: await window.studio!.file(metrics) }),
      { id: source.runId, model: session.share(join(args.dir, 'model.pth')), metrics: session.share(join(args.dir, 'metrics.json')) },
    );
    onStep({ run });
    if (source.config.dataset.kind === 'folder') recordDataFolder(args.profile, run.runId, await importRunFolder(session, args, source));
    onStep({ evaluation: await page.evaluate((req) => window.studio!.engine.evaluate(req, window.studio!.events), { runId: run.runId, latencySamples: args.latencySamples }) });
    if (args.register) onStep({ version: await page.evaluate((req) => window.studio!.engine.register(req), { ...args.register, runId: run.runId }) });
  });
}

export async function importClusterCommand(argv: string[]): Promise<number> {
  const args = parseImportClusterArgs(argv);
  const result: { runId?: string; sourceRunId: string; cluster?: RunRecord['cluster']; best?: RunRecord['best']; epochs?: number; test?: object; version?: string | null } = { sourceRunId: args.sourceRunId, version: null };
  try {
    await importCluster(args, (step) => {
      if ('run' in step) {
        const { run } = step;
        const c = run.cluster!;
        Object.assign(result, { runId: run.runId, cluster: c, best: run.best, epochs: run.epochs.length });
        console.log(`imported run ${run.runId} from run ${args.sourceRunId}'s cluster training (PyTorch DDP on ${c.worldSize} × ${c.device}, torch ${c.torch}, AMP ${c.amp ? 'on' : 'off'}): ${run.epochs.length} epochs, best val accuracy ${run.best ? pct(run.best.valAccuracy) : 'n/a'} at epoch ${run.best?.epoch ?? '-'}`);
      } else if ('evaluation' in step) {
        const m = step.evaluation.metrics;
        result.test = { images: step.evaluation.data.images, accuracy: m.report.accuracy, macroF1: m.report.macro.f1, macroAuc: m.roc.macroAuc, ece: m.calibration.ece, verdict: step.evaluation.medical.verdict };
        console.log(`test split (${step.evaluation.data.images} images): accuracy ${pct(m.report.accuracy)}, macro F1 ${m.report.macro.f1.toFixed(3)}, macro AUC ${m.roc.macroAuc?.toFixed(3) ?? 'n/a'}; ${step.evaluation.medical.verdict}`);
      } else {
        result.version = step.version.id;
        console.log(`registered ${step.version.id}${step.version.aliases.length ? ` (${step.version.aliases.join(', ')})` : ''} from run ${step.version.runId}; gate ${pct(step.version.gate.threshold)} ${step.version.gate.passed ? 'passed' : `overridden: ${step.version.gate.override?.reason}`}`);
      }
    });
  } finally {
    // What was done is written even when a later step failed (the run stays imported).
    if (args.out && result.runId) writeJson(args.out, result);
  }
  return 0;
}
