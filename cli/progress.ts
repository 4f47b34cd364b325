/** The progress lines the CLI prints as the page's engine reports its work. */
import type { StudioEvent } from '../src/engine/automation';
import type { CrossValidationEvent, DatasetSummary } from '../src/engine/types';
import { pct } from './output';

export function importLine(d: DatasetSummary): string {
  const counts = d.classes.map((c) => `${c} ${d.counts.train[c]}/${d.counts.val[c]}/${d.counts.test[c]}`).join(', ');
  return `imported ${d.images} images in ${d.seconds.toFixed(1)} s (${d.imagesPerSecond.toFixed(0)} images/s); train/val/test: ${counts}; skipped ${d.skipped.length}; duplicates: ${d.duplicates.exactGroups.length} exact groups, ${d.duplicates.nearGroups.length} near groups, ${d.duplicates.crossSplit.length} across splits`;
}

/** What a session's printer remembers: the last tenth printed of an import (or download) and of a feature pass. */
interface Deciles {
  import: number;
  features: number;
}

/**
 * Prints a session's progress events, a line each (long passes a line per tenth).
 * @param epochs the run's epoch count, NaN when unknown (a resumed run).
 */
export function progressPrinter(epochs: () => number): (e: StudioEvent) => void {
  const deciles: Deciles = { import: -1, features: -1 };
  return (e) => {
    const line = progressLine(e, epochs(), deciles);
    if (line) console.log(line);
  };
}

function progressLine(e: StudioEvent, epochs: number, deciles: Deciles): string | null {
  // Cross-validation events wrap a fold's own training and evaluation events.
  if ('event' in e || 'result' in e || 'folds' in e) return crossvalLine(e, epochs, deciles);
  if ('checkpointEpoch' in e) return e.checkpointEpoch === null ? `evaluating ${e.runId} on ${e.test} images` : `evaluating run ${e.runId} (checkpoint of epoch ${e.checkpointEpoch}) on ${e.test} test images; temperature on ${e.val} validation images`;
  if ('phase' in e) return e.done === e.total ? `  ${e.phase}: ${e.total} ${e.phase === 'robustness' ? 'corrupted passes over the test split' : 'images'}` : null;
  switch (e.type) {
    case 'scanned':
      return `importing ${e.files} images of ${e.classes.join(', ')} (${e.skipped} files skipped)`;
    case 'progress': {
      const decile = Math.floor((e.done / e.total) * 10);
      if (decile === deciles.import) return null;
      deciles.import = decile;
      return `  ${e.done}/${e.total} decoded · ${e.imagesPerSecond.toFixed(0)} images/s · ETA ${Math.ceil(e.etaSeconds)} s`;
    }
    case 'weights': {
      const decile = e.total ? Math.floor((e.loaded / e.total) * 10) : -1;
      if (decile === deciles.import) return null;
      deciles.import = decile;
      return `  downloading ${e.model} weights: ${(e.loaded / 1e6).toFixed(0)}${e.total ? ` of ${(e.total / 1e6).toFixed(0)}` : ''} MB`;
    }
    case 'start':
      return `run ${e.runId} on ${e.backend.name}${e.backend.adapter ? ` (${e.backend.adapter.vendor} ${e.backend.adapter.architecture}${e.backend.adapter.isSoftware ? ', software adapter' : ''})` : ''}: classes ${e.classes.join(', ')}; split ${e.split.train}/${e.split.val}/${e.split.test}${e.resumedFrom ? `; resumed after epoch ${e.resumedFrom}` : ''}\nrouting: ${e.routing.reason}`;
    case 'measure':
      return `  measuring the backends for this model: ${e.backend} (${e.index} of ${e.of})`;
    case 'features': {
      // Caching a frozen backbone's activations takes minutes on a large folder before epoch 1: a line per tenth.
      const decile = Math.floor((e.done / e.total) * 10);
      if (decile === deciles.features) return null;
      deciles.features = e.done === e.total ? -1 : decile;
      return `  caching the frozen backbone's features: ${e.done}/${e.total} images`;
    }
    case 'compile':
      return e.compiled ? `  ${e.compiled.programs} WebGPU shaders compiled in parallel in ${e.compiled.seconds.toFixed(1)} s` : `  compiling the first step's WebGPU shaders in parallel`;
    case 'epoch': {
      const m = e.metrics;
      return `epoch ${m.epoch}${Number.isNaN(epochs) ? '' : `/${epochs}`}${m.phase ? ` [${m.phase}, lr ${m.learningRate?.toPrecision(3)}]` : ''}: train loss ${m.trainLoss.toFixed(4)} acc ${pct(m.trainAccuracy)} · val loss ${m.valLoss.toFixed(4)} acc ${pct(m.valAccuracy)} · ${m.seconds.toFixed(1)} s, ${m.imagesPerSecond.toFixed(1)} img/s · tensors ${e.numTensors}`;
    }
    default:
      return null;
  }
}
function crossvalLine(e: CrossValidationEvent, epochs: number, deciles: Deciles): string | null {
  switch (e.type) {
    case 'start':
      return `cross-validation ${e.id}: ${e.folds} folds`;
    case 'train':
    case 'evaluate': {
      const line = progressLine(e.event, epochs, deciles);
      return line && `fold ${e.fold}: ${line}`;
    }
    case 'fold':
      return `fold ${e.result.fold}: accuracy ${pct(e.result.accuracy)}, macro F1 ${e.result.macroF1.toFixed(3)} on ${e.result.split.test} held-out images (run ${e.result.runId})`;
    default:
      return null;
  }
}
