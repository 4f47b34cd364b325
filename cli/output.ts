/** How the CLI writes what it did: percentages, JSON files, one-line errors and the run summary. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RunRecord } from '../src/engine/types';

export const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export function writeJson(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

/** Playwright wraps errors thrown in the page as "page.evaluate: Error: CODE: message\n    at …": keep the message. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const first = text.split('\n')[0];
  return first.replace(/^page\.evaluate: (Error: )?/, '').replace(/^EngineError: /, '');
}

/** The run as the CLI contract promises it (see README: "CLI"). */
export function runSummary(run: RunRecord) {
  return {
    runId: run.runId,
    status: run.status,
    backend: run.backend,
    adapter: run.adapter,
    model: run.model,
    strategy: run.strategy,
    optimizer: run.optimizer,
    checkpoint: run.checkpoint,
    ...(run.routing ? { routing: run.routing } : {}),
    ...(run.classWeights ? { classWeights: run.classWeights } : {}),
    ...(run.phases ? { phases: run.phases } : {}),
    ...(run.featureCache ? { featureCache: run.featureCache } : {}),
    ...(run.compiledAhead ? { compiledAhead: run.compiledAhead } : {}),
    classes: run.classes,
    split: run.split,
    epochs: run.epochs,
    best: run.best,
    // The validation labels and logits stay in the profile (evaluate --external fits on them); the fit is shown.
    ...(run.bestValidation ? { bestValidation: (({ labels: _l, logits: _z, ...shown }) => shown)(run.bestValidation) } : {}),
    ...(run.dataset ? { dataset: { fingerprint: run.dataset.fingerprint, classes: run.dataset.classes, counts: run.dataset.counts, skipped: run.dataset.skipped, duplicates: run.dataset.duplicates, normalization: run.dataset.normalization } } : {}),
  };
}
