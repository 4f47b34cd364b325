import { describe, expect, it } from 'vitest';
import { datasetLabel, filterRuns, sortRuns } from '../../src/ui/runs';
import type { RunRecord } from '../../src/engine/types';

const run = (runId: string, over: Partial<RunRecord> & { best?: RunRecord['best'] }): RunRecord =>
  ({
    runId,
    status: 'completed',
    startedAt: `2026-01-0${runId.slice(-1)}T00:00:00.000Z`,
    endedAt: null,
    config: { dataset: { kind: 'demo', seed: 1, imageSize: 32, perClass: 60, split: { train: 0.7, val: 0.15, test: 0.15 } }, model: 'simple_cnn', epochs: 2, batchSize: 8, learningRate: 0.001, seed: 1 },
    backend: 'cpu',
    adapter: null,
    model: 'simple_cnn',
    strategy: 'scratch',
    optimizer: 'adam',
    checkpoint: { best: 1, last: 2 },
    classes: [],
    split: { train: 1, val: 1, test: 1 },
    epochs: [],
    best: null,
    ...over,
  }) as RunRecord;

const runs = [
  run('run-1', { best: { epoch: 1, valAccuracy: 0.5 }, model: 'resnet18' }),
  run('run-2', { best: null, status: 'failed' }),
  run('run-3', { best: { epoch: 2, valAccuracy: 0.9 }, tags: ['cv:cv-x', 'fold 1/3'] }),
  run('run-4', { best: { epoch: 2, valAccuracy: 0.5 }, config: { ...run('x', {}).config, dataset: { kind: 'folder', fingerprint: 'abcdef0123' } }, dataset: { name: 'brain-mri-224' } as RunRecord['dataset'] }),
];

describe('runs list', () => {
  it('sorts by best validation accuracy (runs without one last, ties newest first), date, model, epochs', () => {
    expect(sortRuns(runs, 'best').map((r) => r.runId)).toEqual(['run-3', 'run-4', 'run-1', 'run-2']);
    expect(sortRuns(runs, 'date').map((r) => r.runId)).toEqual(['run-4', 'run-3', 'run-2', 'run-1']);
    expect(sortRuns(runs, 'model').map((r) => r.runId)).toEqual(['run-1', 'run-4', 'run-3', 'run-2']);
  });

  it('filters on every word over model, dataset, status and tags', () => {
    expect(filterRuns(runs, 'failed').map((r) => r.runId)).toEqual(['run-2']);
    expect(filterRuns(runs, 'BRAIN').map((r) => r.runId)).toEqual(['run-4']);
    expect(filterRuns(runs, 'cv:cv-x fold').map((r) => r.runId)).toEqual(['run-3']);
    expect(filterRuns(runs, 'resnet completed').map((r) => r.runId)).toEqual(['run-1']);
    expect(filterRuns(runs, '  ')).toHaveLength(4);
  });

  it('names the dataset', () => {
    expect(datasetLabel(runs[0])).toBe('demo 32 px × 60/class');
    expect(datasetLabel(runs[3])).toBe('brain-mri-224');
  });
});
