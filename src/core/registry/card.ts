/**
 * The model card of a registered version, generated in Markdown from what the studio recorded: the run (config,
 * data, split, duplicates, metrics), the export metadata and, when they exist, a held-out evaluation and a
 * medical-validation verdict. Facts only; where the studio does not know something, the card says so.
 */
import type { ModelMetadata } from '../export/metadata';
import { mdText } from '../markdown';
import { resolveTrainConfig } from '../settings/resolve';
import type { ClusterProvenance, RunRecord } from '../train/types';
import type { ModelVersion } from '../store/records';

/** A held-out evaluation of the model (e.g. the test split), as the evaluation step reports it. */
export interface CardEvaluation {
  split: string;
  n: number;
  accuracy: number;
  /** 95 % interval of the accuracy; Wilson's is computed when absent. */
  ci95?: [number, number];
  macroF1?: number;
  perClass?: { label: string; recall: number; support: number }[];
}

/** The outcome of a medical-validation review (criteria checked against the evaluation). */
export interface MedicalVerdict {
  verdict: string;
  summary?: string;
  criteria?: { name: string; passed: boolean; detail?: string }[];
}

/** Wilson score interval for a proportion (95 % by default): sound at small n and at 0 % or 100 %, unlike ±1.96·SE. */
export function wilsonInterval(successes: number, n: number, z = 1.959964): [number, number] {
  if (n <= 0) return [0, 1];
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const ci = ([lo, hi]: [number, number]) => `${pct(lo)} – ${pct(hi)}`;
/** Every cell is text (see mdText): what the studio writes there and what users typed alike. */
const table = (head: string[], rows: string[][]) => [`| ${head.map(mdText).join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(mdText).join(' | ')} |`)].join('\n');

/** Where a cluster run trained, in the card's words. */
export const clusterProvenance = (c: ClusterProvenance): string =>
  `trained with PyTorch DDP on ${c.worldSize} × ${c.device}, torch ${c.torch}, AMP ${c.amp ? 'on' : 'off'}, from run ${c.sourceRunId}'s exported recipe (model.pth SHA-256 ${c.modelSha256.slice(0, 16)}…)`;

export interface CardInput {
  version: ModelVersion;
  metadata: ModelMetadata;
  run?: RunRecord;
  evaluation?: CardEvaluation;
  verdict?: MedicalVerdict;
}

export function modelCard({ version: v, metadata: m, run, evaluation, verdict }: CardInput): string {
  const out: string[] = [];
  const section = (title: string, ...body: string[]) => out.push(`## ${title}`, '', ...body.filter(Boolean).flatMap((b) => [b, '']));

  out.push(`# ${mdText(v.name)} ${mdText(v.version)}`, '');
  if (v.description) out.push(mdText(v.description), '');
  out.push(
    table(
      ['field', 'value'],
      [
        ['registered', v.createdAt],
        ['source run', v.runId ? `${v.runId}${v.epoch != null ? `, best epoch ${v.epoch}` : ''}` : 'imported from files (no run in this studio)'],
        ...(run?.cluster ? [['trained on a cluster', clusterProvenance(run.cluster)]] : []),
        ['architecture', `${m.modelId} (${m.strategy})`],
        ['aliases', v.aliases.join(', ') || 'none'],
        ['tags', Object.entries(v.tags).map(([k, val]) => `${k}=${val}`).join(', ') || 'none'],
      ],
    ),
    '',
  );

  section(
    'Intended use',
    mdText(`Classifies ${m.channels === 3 ? 'RGB' : 'greyscale'} images, resized to ${m.inputSize}×${m.inputSize} px, into ${m.labels.length} classes: ${m.labels.join(', ')}. Input: pixel values 0..255; the network sees (x/255 − mean) / std with mean ${JSON.stringify(m.preprocessing.mean.map((x) => +x.toFixed(4)))} and std ${JSON.stringify(m.preprocessing.std.map((x) => +x.toFixed(4)))} (${{ dataset: "the training split's statistics", fixed: 'the normalisation the imported backbone was trained with', '[-1,1]': 'the [-1, 1] scaling of the ImageNet backbone' }[m.preprocessing.scaling]}).${m.tta ? ' Its answer is the mean of the logits for the image and for the image mirrored left to right (test-time mirroring); the TF.js graph returns one image\'s logits, so a caller of it must average the two (the ONNX file does it itself).' : ''}`),
    'For research and teaching on images like the training data. It is not a medical device: it has not been cleared for diagnosis, and its output must not replace a clinician’s reading.',
  );

  if (run?.dataset) {
    const d = run.dataset;
    const splits = ['train', 'val', 'test'] as const;
    section(
      'Data summary',
      `Dataset fingerprint ${mdText(d.fingerprint.slice(0, 16))}… (SHA-256 over file paths, sizes and contents). ${d.skipped.length} file(s) were skipped at import (unreadable or not images).`,
      table(['class', ...splits], d.classes.map((c) => [c, ...splits.map((s) => String(d.counts[s]?.[c] ?? 0))])),
    );
  } else if (run) {
    section('Data summary', mdText(`The studio's synthetic demo phantoms (seed ${run.config.dataset.kind === 'demo' ? run.config.dataset.seed : '?'}): ${run.split.train} training, ${run.split.val} validation and ${run.split.test} test images in ${run.classes.length} classes. Not real patient data.`));
  } else {
    section('Data summary', 'Unknown: the model was imported from files, without the run that trained it.');
  }

  if (run) {
    const cross = run.dataset?.duplicates.crossSplit ?? [];
    const split = run.config.dataset.kind === 'demo' ? run.config.dataset.split : null;
    const leakage = !run.dataset
      ? 'Not applicable: synthetic images generated from a seed, each one distinct.'
      : cross.length === 0
        ? `No leakage found: ${run.dataset.duplicates.exactGroups.length} exact and ${run.dataset.duplicates.nearGroups.length} near-duplicate group(s), none spanning two splits.`
        : `**Leakage: ${cross.length} duplicate group(s) span two splits** (${cross.filter((g) => g.kind === 'exact').length} exact, ${cross.filter((g) => g.kind === 'near').length} near), so validation and test figures may be optimistic.`;
    section(
      'Split protocol and leakage status',
      mdText(`Stratified, seeded split into ${run.split.train} training / ${run.split.val} validation / ${run.split.test} test images${split ? ` (fractions ${split.train}/${split.val}/${split.test}, seed ${run.config.seed})` : ', fixed when the folder was imported'}. The best epoch was chosen on validation accuracy; the test split was not used for training or model selection.`),
      leakage,
    );

    const c = run.config;
    const { earlyStopping } = resolveTrainConfig(c);
    const es = earlyStopping === null ? 'off' : `patience ${earlyStopping.patience}, min Δ ${earlyStopping.minDelta}`;
    section(
      'Training configuration',
      table(
        ['setting', 'value'],
        [
          ['model', `${run.model} (${run.strategy}${c.trainableBlocks !== undefined ? `, trainable blocks ${c.trainableBlocks}` : ''})`],
          ['optimiser', `${run.optimizer}, learning rate ${c.learningRate}${c.lrSchedule ? `, schedule ${JSON.stringify(c.lrSchedule)}` : ''}`],
          ['epochs', `${run.epochs.length} run of ${c.epochs} requested`],
          ['batch size', String(c.batchSize)],
          ['augmentation', c.augment ? (c.augment === 'default' ? 'studio default' : JSON.stringify(c.augment)) : 'off'],
          ['class weights', run.classWeights ? run.classWeights.map((w) => w.toFixed(3)).join(', ') : 'none'],
          ['label smoothing', String(c.labelSmoothing ?? 0)],
          ['gradient clipping', c.clipNorm === 0 ? 'off' : `global norm ${c.clipNorm ?? 1}`],
          ['early stopping', es],
          ['seed', String(c.seed)],
          run.cluster ? ['training', clusterProvenance(run.cluster)] : ['backend', `${run.backend}${run.adapter ? ` (${run.adapter.description || run.adapter.vendor}${run.adapter.isSoftware ? ', software adapter' : ''})` : ''}`],
        ],
      ),
    );
  }

  const best = run?.best ? run.epochs.find((e) => e.epoch === run.best!.epoch) : undefined;
  const rows: string[][] = [];
  if (v.validation) rows.push(['validation accuracy', pct(v.validation.accuracy), ci(v.validation.ci95), String(v.validation.n)]);
  if (best) rows.push(['validation loss', best.valLoss.toFixed(4), '', String(v.validation?.n ?? '')], ['training accuracy', pct(best.trainAccuracy), '', String(run!.split.train)]);
  if (evaluation) {
    rows.push([`${evaluation.split} accuracy`, pct(evaluation.accuracy), ci(evaluation.ci95 ?? wilsonInterval(Math.round(evaluation.accuracy * evaluation.n), evaluation.n)), String(evaluation.n)]);
    if (evaluation.macroF1 !== undefined) rows.push([`${evaluation.split} macro F1`, evaluation.macroF1.toFixed(3), '', String(evaluation.n)]);
    for (const k of evaluation.perClass ?? []) rows.push([`${evaluation.split} recall: ${k.label}`, pct(k.recall), ci(wilsonInterval(Math.round(k.recall * k.support), k.support)), String(k.support)]);
  }
  const gate = v.gate.override
    ? `**Accuracy gate overridden**: ${v.validation ? `validation accuracy ${pct(v.validation.accuracy)}` : 'no validation accuracy'} against a threshold of ${pct(v.gate.threshold)}. Reason given (${mdText(v.gate.override.at)}): “${mdText(v.gate.override.reason)}”.`
    : `Accuracy gate passed: validation accuracy at or above ${pct(v.gate.threshold)}.`;
  section(
    'Metrics',
    rows.length ? table(['metric', 'value', '95 % CI (Wilson)', 'images'], rows) : 'No metrics were recorded with this model.',
    evaluation ? '' : 'No held-out (test) evaluation was recorded at registration; the validation split also chose the best epoch, so its accuracy is optimistic.',
    gate,
  );

  section(
    'Medical validation',
    verdict
      ? [`Verdict: **${mdText(verdict.verdict)}**${verdict.summary ? `. ${mdText(verdict.summary)}` : ''}`, verdict.criteria?.length ? table(['criterion', 'result', 'detail'], verdict.criteria.map((k) => [k.name, k.passed ? 'pass' : 'FAIL', k.detail ?? ''])) : ''].filter(Boolean).join('\n\n')
      : 'No medical-validation verdict was recorded for this model.',
  );

  const limits = [
    'Trained and validated on one dataset; performance on images from other scanners, protocols or populations is unknown.',
    v.validation && v.validation.ci95[1] - v.validation.ci95[0] > 0.1 ? `The validation split is small (${v.validation.n} images): the accuracy interval is ${ci(v.validation.ci95)} wide.` : '',
    run?.dataset?.duplicates.crossSplit.length ? 'Duplicates span splits (see above): reported accuracy may overstate performance on new images.' : '',
    !run?.dataset && run ? 'Trained on synthetic demo images: it says nothing about real scans.' : '',
    v.gate.override ? 'Registered below the accuracy gate (see Metrics).' : '',
  ].filter(Boolean);
  section('Limitations', limits.map((l) => `- ${mdText(l)}`).join('\n'));

  section('Library versions', table(['library', 'version'], Object.entries(m.libraries).map(([k, val]) => [k, val])));
  return out.join('\n').trimEnd() + '\n';
}
