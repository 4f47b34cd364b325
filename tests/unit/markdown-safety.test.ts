import { describe, expect, it } from 'vitest';
import { describeModel } from '../../src/core/export/metadata';
import { mdText } from '../../src/core/markdown';
import { evaluate } from '../../src/core/metrics/evaluation';
import { evaluationReportMarkdown, misclassified } from '../../src/core/metrics/files';
import { medicalValidation } from '../../src/core/metrics/medical';
import { modelCard, wilsonInterval } from '../../src/core/registry/card';
import type { ModelVersion } from '../../src/core/registry/registry';
import type { RunRecord } from '../../src/core/train/types';
import { asShown, HOSTILE, liveProblems, renderMarkdown } from '../fixtures/markdown-safety';

/** Three classes, 20 images each, each right 3 times in 4 (so every class has mistakes to list). */
function metricsFor(classes: string[]) {
  const labels: number[] = [];
  const logits: number[] = [];
  for (let k = 0; k < classes.length; k++) {
    for (let i = 0; i < 20; i++) {
      labels.push(k);
      const guess = i % 4 === 0 ? (k + 1) % classes.length : k;
      for (let j = 0; j < classes.length; j++) logits.push(j === guess ? 2 + (i % 5) / 5 : 0);
    }
  }
  return { m: evaluate({ classes, labels, logits, val: { labels, logits }, latencyMs: Array.from({ length: 20 }, (_, i) => 5 + i), throughput: 100, bootstrap: { resamples: 50, seed: 1 } }), labels, logits };
}

function report(hostile: string): string {
  const classes = [hostile, `${hostile} 2`, 'notumor'];
  const { m } = metricsFor(classes);
  const v = medicalValidation(m);
  const predictions = m.classes.flatMap((_, k) => Array.from({ length: 20 }, (_, i) => ({ key: `${classes[k]}/${hostile}-${i}.png`, label: k, predicted: i % 4 === 0 ? (k + 1) % 3 : k, probs: [0.2, 0.3, 0.5] })));
  const names = predictions.map((p) => p.key);
  return evaluationReportMarkdown(m, v, {
    runId: `run-${hostile}`,
    model: hostile,
    data: `the folder "${hostile}"`,
    backend: 'cpu',
    date: '2026-12-03',
    unknownClasses: [{ name: hostile, images: 3 }],
    misclassified: misclassified(classes, predictions, names),
  });
}

function card(hostile: string): string {
  const labels = [hostile, 'notumor'];
  const metadata = describeModel({ modelId: 'simple_cnn', strategy: 'scratch', labels, inputSize: 16, channels: 3, normalization: { mean: [0.2, 0.2, 0.2], std: [0.2, 0.2, 0.2] }, scaling: 'dataset', libraries: { tfjs: '4.22.0' } });
  const createdAt = '2026-12-03T00:00:00Z';
  const version: ModelVersion = {
    id: 'brain-mri@1.0.0',
    name: `brain-mri ${hostile}`,
    version: '1.0.0',
    description: hostile,
    tags: { site: hostile },
    aliases: ['candidate'],
    createdAt,
    runId: `run-${hostile}`,
    epoch: 2,
    modelId: 'simple_cnn',
    strategy: 'scratch',
    labels,
    inputSize: 16,
    channels: 3,
    validation: { accuracy: 0.8, n: 20, ci95: wilsonInterval(16, 20) },
    gate: { threshold: 0.85, passed: false, override: { reason: hostile, at: createdAt } },
    files: [],
    byteLength: 0,
    card: '',
  };
  const counts = (n: number) => Object.fromEntries(labels.map((c) => [c, n]));
  const run = {
    runId: `run-${hostile}`,
    status: 'completed',
    config: { dataset: { kind: 'folder', fingerprint: 'f'.repeat(64) }, model: 'simple_cnn', epochs: 2, batchSize: 8, learningRate: 0.003, seed: 1 },
    backend: 'webgpu',
    adapter: { vendor: hostile, architecture: '', device: '', description: hostile, isSoftware: true },
    model: 'simple_cnn',
    strategy: 'scratch',
    optimizer: 'adam',
    checkpoint: { best: 2, last: 2 },
    classes: labels,
    split: { train: 28, val: 20, test: 12 },
    epochs: [{ epoch: 2, trainLoss: 0.3, trainAccuracy: 0.9, valLoss: 0.4, valAccuracy: 0.8, seconds: 1, imagesPerSecond: 10 }],
    best: { epoch: 2, valAccuracy: 0.8 },
    dataset: { fingerprint: 'f'.repeat(64), classes: labels, counts: { train: counts(14), val: counts(10), test: counts(6) }, skipped: [], duplicates: { exactGroups: [], nearGroups: [], crossSplit: [] }, normalization: metadata.preprocessing },
  } as unknown as RunRecord;
  return modelCard({
    version,
    metadata,
    run,
    evaluation: { split: 'test', n: 12, accuracy: 0.75, perClass: [{ label: hostile, recall: 0.5, support: 6 }] },
    verdict: { verdict: hostile, summary: hostile, criteria: [{ name: hostile, passed: false, detail: hostile }] },
  });
}

describe('Markdown exports escape what users typed and named', () => {
  it('mdText keeps text one line of literal text', () => {
    expect(mdText('<img src=x onerror=alert(1)>')).toBe('&lt;img src=x onerror=alert(1)&gt;');
    expect(mdText('a|b')).toBe('a\\|b');
    expect(mdText('no_tumor')).toBe('no\\_tumor');
    expect(mdText('# x\n- y')).toBe('\\# x - y');
    expect(mdText('1. first')).toBe('1\\. first');
    expect(mdText('brain-mri 1.0.0')).toBe('brain-mri 1.0.0');
  });

  const baseline = { report: renderMarkdown(report('glioma')), card: renderMarkdown(card('glioma')) };
  const count = (r: ReturnType<typeof renderMarkdown>, tag: string) => r.elements.filter((e) => e.tag === tag).length;

  for (const hostile of HOSTILE) {
    it(`evaluation_report.md and MODEL_CARD.md show ${JSON.stringify(hostile)} as text, with no live element`, () => {
      for (const [kind, md] of [['report', report(hostile)], ['card', card(hostile)]] as const) {
        const r = renderMarkdown(md);
        expect(liveProblems(r), kind).toEqual([]);
        // No heading, list or table was added or lost: the document has the structure it has for a plain name.
        for (const tag of ['h1', 'h2', 'table', 'tr', 'li', 'blockquote']) expect(count(r, tag), `${kind} <${tag}>`).toBe(count(baseline[kind], tag));
        // And the name reads as typed (one line).
        expect(r.text, kind).toContain(asShown(hostile));
      }
    });
  }

  it('the unescaped text would have been live: the check can fail', () => {
    const r = renderMarkdown(`| class |\n| --- |\n| ${HOSTILE[0]} |\n\n${HOSTILE[2]}`);
    expect(liveProblems(r)).toContain('<img> element');
    expect(liveProblems(r)).toContain('onerror attribute on <img>');
    // A pipe in a name splits its cell; the cells past the header's are dropped, so the name no longer reads as typed.
    expect(renderMarkdown(`| a | b |\n| --- | --- |\n| x | ${HOSTILE[5]} |`).text).not.toContain(asShown(HOSTILE[5]));
  });
});
