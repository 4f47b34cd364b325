/** The runs page's list: what each run is called, sorting and filtering (plain functions, tested in Node). */
import type { RunRecord } from '../engine/types';

export type RunSort = 'best' | 'date' | 'model' | 'epochs';

export const RUN_SORTS: { id: RunSort; label: string }[] = [
  { id: 'best', label: 'best validation accuracy' },
  { id: 'date', label: 'newest first' },
  { id: 'model', label: 'model' },
  { id: 'epochs', label: 'epochs' },
];

/** The dataset in a few words: the folder's name, or the demo's size. */
export function datasetLabel(run: RunRecord): string {
  const d = run.config.dataset;
  if (d.kind === 'demo') return `demo ${d.imageSize} px × ${d.perClass}/class`;
  return run.dataset?.name ?? `folder ${d.fingerprint.slice(0, 8)}`;
}

/** Runs without a best epoch sort last; ties fall back to the newest first. */
export function sortRuns(runs: readonly RunRecord[], by: RunSort): RunRecord[] {
  const newest = (a: RunRecord, b: RunRecord) => b.startedAt.localeCompare(a.startedAt);
  const key: Record<RunSort, (a: RunRecord, b: RunRecord) => number> = {
    best: (a, b) => (b.best?.valAccuracy ?? -1) - (a.best?.valAccuracy ?? -1),
    date: () => 0,
    model: (a, b) => a.model.localeCompare(b.model),
    epochs: (a, b) => b.epochs.length - a.epochs.length,
  };
  return [...runs].sort((a, b) => key[by](a, b) || newest(a, b));
}

/** Every whitespace-separated word must appear (case-insensitive) in the run's id, model, strategy, dataset, status or tags. */
export function filterRuns(runs: readonly RunRecord[], text: string): RunRecord[] {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...runs];
  return runs.filter((r) => {
    const haystack = [r.runId, r.model, r.strategy, datasetLabel(r), r.status, ...(r.tags ?? [])].join(' ').toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
}
