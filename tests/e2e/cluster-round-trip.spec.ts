import { expect, test } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_PORT, exportAndTrain, torchMissing, torchvisionPth } from './harness/recipe';

// Issue 19's round trip, as a user runs it: a studio run exported as a recipe (export-recipe), trained by its
// train.py under torchrun with 2 processes (gloo, CPU), brought back (import-cluster), and evaluated by the studio on
// the same test split (evaluate): the studio's predictions of the imported model equal the script's predictions.json.
const skipWhy = torchMissing();
if (skipWhy) console.log(skipWhy);

const SIZE = 32;
const CLASSES = ['glioma', 'meningioma', 'pituitary'];

function cli(args: string[], profile: string) {
  const r = spawnSync('npx', ['tsx', 'cli/studio.ts', ...args, '--port', CLI_PORT, '--profile', profile], { encoding: 'utf8', timeout: 5 * 60_000 });
  expect(r.status, `${args[0]}:\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

const CASES = [
  { name: 'simple_cnn, split by file names', model: 'simple_cnn', flags: [] as string[], fileNames: true },
  { name: 'resnet18_imagenet with the medical head, split by content hashes', model: 'resnet18_imagenet', flags: ['--strategy', 'medical'], fileNames: false },
];

test.describe('export → torchrun → import-cluster → evaluate (needs PyTorch)', () => {
  test.skip(skipWhy !== null, skipWhy ?? '');

  for (const c of CASES) {
    test(`${c.name}: the studio's test predictions of the cluster model equal train.py's`, async () => {
      const flags = c.model === 'simple_cnn' ? c.flags : [...c.flags, '--weights', torchvisionPth('resnet18', SIZE)];
      const t = exportAndTrain({ classes: CLASSES, perClass: 8, size: SIZE, model: c.model, flags, fileNames: c.fileNames });

      const imported = join(t.out, '..', 'cluster.json');
      cli(['import-cluster', '--run', t.runId, '--dir', t.out, '--no-register', '--latency-samples', '2', '--out', imported], t.profile);
      const cluster = JSON.parse(readFileSync(imported, 'utf8'));
      expect(cluster).toMatchObject({ sourceRunId: t.runId, cluster: { worldSize: 2, device: 'cpu' } });
      expect(cluster.test.images).toBe(t.predictions.items.length);

      const report = join(t.out, '..', 'evaluation');
      cli(['evaluate', '--run', cluster.runId, '--include-file-names', '--latency-samples', '2', '--out', report], t.profile);
      // predictions.csv: image (its path), true, predicted, [operating point], then p_<class> at 6 decimals.
      const [header, ...rows] = readFileSync(join(report, 'predictions.csv'), 'utf8').trimEnd().split(/\r?\n/).map((l) => l.split(','));
      const p = CLASSES.map((k) => header.indexOf(`p_${k}`));
      // split.csv's key of each evaluated image: its path, or the SHA-256 of its bytes.
      const keyOf = (path: string) => (c.fileNames ? path : `sha256:${createHash('sha256').update(readFileSync(join(t.data, path))).digest('hex')}`);
      const studio = new Map(rows.map((r) => [keyOf(r[0]), p.map((i) => Number(r[i]))]));
      expect(studio.size).toBe(t.predictions.items.length);

      const argmax = (q: number[]) => q.indexOf(Math.max(...q));
      let worst = 0;
      for (const item of t.predictions.items) {
        const ours = studio.get(item.key);
        expect(ours, `the studio did not evaluate ${item.key}`).toBeDefined();
        expect(argmax(ours!)).toBe(argmax(item.probs));
        worst = Math.max(worst, ...item.probs.map((v, j) => Math.abs(v - ours![j])));
      }
      console.log(`${c.model}: the studio's evaluation of ${cluster.runId} vs train.py's predictions.json on ${studio.size} test images: max |Δp| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThanOrEqual(1e-4);
    });
  }
});
