/** `evaluate`: a run on its test split or an external folder, or an exported model folder on a folder; the report files. */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { operatingPointSummary } from '../../src/core/metrics/files';
import { EVALUATION_IMPORT, type EvaluateRequest, type EvaluationRecord, type ExportedFile, type ImportOptions, type ReportFile, type ReportOptions } from '../../src/engine/types';
import { externalImportOptions } from '../../src/engine/external';
import { COMMON_OPTIONS, UsageError, dataFolderWarnings, fraction, int, oneOf, parse, sessionArgs, type SessionArgs } from '../args';
import { oneLine, pct } from '../output';
import { progressPrinter } from '../progress';
import { importFolder } from '../session';
import { findRun, importRunFolder, openStudio } from '../studio-page';

export interface EvaluateArgs extends SessionArgs {
  /** A run in the profile, or (`model`) an exported TF.js model folder evaluated on `data`. */
  runId?: string;
  model?: string;
  out: string;
  data?: string;
  /** Another folder to evaluate on (an external test set) instead of the run's own test split. */
  external?: string;
  request: Omit<EvaluateRequest, 'runId'>;
  report: ReportOptions;
}

export function parseEvaluateArgs(argv: string[]): EvaluateArgs {
  const v = parse(argv, {
    ...COMMON_OPTIONS,
    run: { type: 'string' },
    model: { type: 'string' },
    data: { type: 'string' },
    external: { type: 'string' },
    checkpoint: { type: 'string' },
    'latency-samples': { type: 'string' },
    'min-sensitivity': { type: 'string' },
    'min-accuracy': { type: 'string' },
    'max-p95-ms': { type: 'string' },
    'tumour-classes': { type: 'string' },
    'target-sensitivity': { type: 'string' },
    'include-file-names': { type: 'boolean' },
    robustness: { type: 'boolean' },
  });
  if (!v.run === !v.model) throw new UsageError('evaluate needs --run ID (see "runs") or --model DIR (an exported TF.js model folder), one of them');
  const model = v.model === undefined ? undefined : resolve(v.model);
  if (model && !existsSync(join(model, 'model.json'))) throw new UsageError(`--model ${v.model}: no model.json there (expected a TF.js model folder exported by the studio)`);
  if (model && !v.data) throw new UsageError('--model DIR needs --data DIR, the folder to evaluate it on');
  for (const flag of ['external', 'checkpoint', 'target-sensitivity'] as const) if (model && v[flag] !== undefined) throw new UsageError(`--${flag} applies to --run, not --model${flag === 'target-sensitivity' ? ' (a model folder\'s thresholds are fixed in its metadata.json)' : ''}`);
  const target = v['target-sensitivity'] === undefined ? undefined : Number(v['target-sensitivity']);
  if (target !== undefined && !(target > 0 && target <= 1)) throw new UsageError(`--target-sensitivity must be a fraction above 0 and at most 1, e.g. 0.95 (got "${v['target-sensitivity']}")`);
  if (!v.out) throw new UsageError('evaluate needs --out DIR, the folder the report files go to');
  const data = v.data === undefined ? undefined : resolve(v.data);
  if (data && (!existsSync(data) || !statSync(data).isDirectory())) throw new UsageError(`--data ${v.data}: no such folder`);
  if (data) dataFolderWarnings('data', data);
  if (data && v.external) throw new UsageError('pass --data DIR (the run\'s own folder, evaluated on its test split) or --external DIR (another folder), not both');
  const external = v.external === undefined ? undefined : resolve(v.external);
  if (external && (!existsSync(external) || !statSync(external).isDirectory())) throw new UsageError(`--external ${v.external}: no such folder`);
  if (external) dataFolderWarnings('external', external);
  const thresholds = {
    ...(v['min-sensitivity'] === undefined ? {} : { minSensitivity: fraction('min-sensitivity', v['min-sensitivity']) }),
    ...(v['min-accuracy'] === undefined ? {} : { minAccuracy: fraction('min-accuracy', v['min-accuracy']) }),
    ...(v['max-p95-ms'] === undefined ? {} : { maxP95LatencyMs: int('max-p95-ms', v['max-p95-ms'], 100, 1, 600_000) }),
    ...(v['tumour-classes'] === undefined ? {} : { tumourClasses: v['tumour-classes'].split(',').map((c) => c.trim()).filter(Boolean) }),
  };
  return {
    ...sessionArgs(v),
    runId: v.run,
    model,
    out: resolve(v.out),
    data,
    external,
    request: {
      checkpoint: oneOf('checkpoint', v.checkpoint, ['best', 'last'] as const),
      latencySamples: int('latency-samples', v['latency-samples'], 100, 1, 100_000),
      thresholds,
      ...(v.robustness ? { robustness: true } : {}),
      ...(target === undefined ? {} : { targetSensitivity: target }),
    },
    report: { includeFileNames: v['include-file-names'] ?? false },
  };
}

/** An exported model folder's files, and the input size and channels its metadata.json gives (checked in the page). */
function readModelFolder(dir: string): { files: ExportedFile[]; imageSize: number; channels: 1 | 3 } {
  const files = readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isFile())
    .map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
  const meta = files.find((f) => f.name === 'metadata.json');
  if (!meta) throw new UsageError(`--model ${dir}: metadata.json is missing (the studio writes it beside model.json: labels, input size, normalisation)`);
  let parsed: { inputSize?: unknown; channels?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(meta.bytes).toString('utf8'));
  } catch (err) {
    throw new UsageError(`--model ${dir}: metadata.json is not valid JSON: ${(err as Error).message}`);
  }
  const { inputSize, channels } = parsed;
  if (!Number.isInteger(inputSize) || (channels !== 1 && channels !== 3)) throw new UsageError(`--model ${dir}: metadata.json gives no inputSize and channels (1 or 3)`);
  return { files, imageSize: inputSize as number, channels };
}

/** An exported TF.js model folder on --data: the folder imported at the model's input size, then evaluated whole. */
function evaluateModelFolder(args: EvaluateArgs & { model: string; data: string }): Promise<{ evaluation: EvaluationRecord; files: ReportFile[] }> {
  const { files, imageSize, channels } = readModelFolder(args.model);
  return openStudio({ ...args, onEvent: progressPrinter(() => Number.NaN) }, async (session) => {
    const { page } = session;
    const dataset = await importFolder(session, args.data, { imageSize, channels, seed: 42, ...EVALUATION_IMPORT } satisfies ImportOptions);
    const { thresholds, latencySamples } = args.request;
    const evaluation = await page.evaluate((req) => window.studio!.engine.evaluateModel(req, window.studio!.events), { files, fingerprint: dataset.fingerprint, thresholds, latencySamples });
    const report = await page.evaluate(([id, opts]) => window.studio!.engine.evaluationReport(id, opts), [evaluation.runId, args.report] as const);
    return { evaluation, files: report };
  });
}

/** Evaluates a run in the page and returns its record and report files; a folder run's folder is imported first. */
export function evaluateRun(args: EvaluateArgs): Promise<{ evaluation: EvaluationRecord; files: ReportFile[] }> {
  if (args.model) return evaluateModelFolder({ ...args, model: args.model, data: args.data! });
  return openStudio({ ...args, onEvent: progressPrinter(() => Number.NaN) }, async (session) => {
    const { page } = session;
    const run = await findRun(session, args, args.runId!);
    let external: EvaluateRequest['external'];
    if (args.external) {
      // As a user's pick of another folder in the evaluation panel: the run's input settings, every image evaluated.
      let options: ImportOptions;
      try {
        options = externalImportOptions(run);
      } catch (err) {
        throw new UsageError(oneLine(err));
      }
      external = { fingerprint: (await importFolder(session, args.external, options)).fingerprint };
    } else if (run.config.dataset.kind === 'folder') {
      await importRunFolder(session, args, run);
    }
    const evaluation = await page.evaluate((req) => window.studio!.engine.evaluate(req, window.studio!.events), { ...args.request, runId: run.runId, ...(external ? { external } : {}) });
    const files = await page.evaluate(([id, report]) => window.studio!.engine.evaluationReport(id, report), [run.runId, args.report] as const);
    return { evaluation, files };
  });
}

export async function evaluateCommand(argv: string[]): Promise<number> {
  const args = parseEvaluateArgs(argv);
  const { evaluation: ev, files } = await evaluateRun(args);
  mkdirSync(args.out, { recursive: true });
  for (const f of files) writeFileSync(join(args.out, f.name), f.bytes ?? f.text);
  const m = ev.metrics;
  console.log(`${ev.medical.verdict}: accuracy ${pct(m.report.accuracy)} (95% CI ${m.ci95.accuracy ? `${pct(m.ci95.accuracy.low)}–${pct(m.ci95.accuracy.high)}` : 'n/a'}), macro F1 ${m.report.macro.f1.toFixed(3)}, macro AUC ${m.roc.macroAuc?.toFixed(3) ?? 'n/a'}, ECE ${m.calibration.ece.toFixed(3)} → ${m.calibrationAfterTemperature?.ece.toFixed(3) ?? 'n/a'}, latency p50 ${m.latencyMs.p50.toFixed(1)} ms p95 ${m.latencyMs.p95.toFixed(1)} ms`);
  console.log(operatingPointSummary(m) ?? `operating point: n/a (${ev.checkpoint?.kind === 'last' ? 'the run keeps the validation outputs of its best checkpoint only' : 'no validation outputs were stored with this run: train it again to have them'})`);
  if (ev.medical.leakageWarning) console.log(`warning: ${ev.medical.leakageWarning}`);
  if (ev.data.unknownClasses?.length) console.log(`not evaluated: class folders the model was not trained on: ${ev.data.unknownClasses.map((c) => `${c.name} (${c.images} images)`).join(', ')}`);
  if (ev.robustness) {
    const accuracies = (kind: string) => ev.robustness!.rows.filter((r) => r.kind === kind).map((r) => pct(r.accuracy)).join(' / ');
    console.log(`robustness (accuracy at severity 1 / 2 / 3; clean ${pct(ev.robustness.baseline)}): ${[...new Set(ev.robustness.rows.map((r) => r.kind))].map((k) => `${k} ${accuracies(k)}`).join(', ')}`);
  }
  console.log(`wrote ${files.map((f) => f.name).join(', ')} to ${args.out}`);
  return 0;
}
