import { expect, test, type Page } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '../../cli/serve';
import { phantomFolder } from '../fixtures/folders';
import { chooseModel, gotoStep, importFolder } from '../fixtures/studio-ui';

// A torchvision ResNet-18 state_dict written at test time by Debian's PyTorch (random init; tests never download the
// official weights): picked in the train panel, trained with the Medical head, registered and exported to ONNX.
const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
const skipWhy = `torchvision weights e2e skipped: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)`;
if (probe.status !== 0) console.log(skipWhy);
test.skip(probe.status !== 0, skipWhy);

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist');

function writePth(): string {
  const dir = mkdtempSync(join(tmpdir(), 'studio-pth-'));
  const r = spawnSync(PYTHON, [fileURLToPath(new URL('../fixtures/torchvision_parity.py', import.meta.url)), 'resnet18', '32', '1', dir], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return join(dir, 'resnet18.pth');
}

test('a .pth picked in the train panel trains resnet18_imagenet with the Medical head, registers and exports to ONNX with parity', async ({ page }) => {
  const pth = writePth();
  await page.goto('/?backend=webgpu');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await importFolder(page, phantomFolder(['glioma', 'meningioma', 'pituitary'], 6));

  await chooseModel(page, 'resnet18_imagenet');
  const picker = page.getByTestId('weights-file');
  await picker.locator('summary').click();
  await picker.getByTestId('weights-model').selectOption('resnet18_imagenet');
  await expect(picker.getByTestId('weights-url')).toHaveAttribute('href', 'https://download.pytorch.org/models/resnet18-f37072fd.pth');
  // A file of another architecture is refused, naming the keys that do not fit.
  await picker.getByTestId('weights-file-input').setInputFiles({ name: 'notes.pth', mimeType: 'application/octet-stream', buffer: Buffer.from('not a zip') });
  await expect(picker.getByTestId('weights-error')).toContainText('“notes.pth” is not a weights file for ResNet-18 (ImageNet, torchvision): this is neither a PyTorch .pth (zip) nor a .safetensors file');
  await picker.getByTestId('weights-file-input').setInputFiles(pth);
  await expect(picker.getByTestId('weights-status')).toContainText('ResNet-18 (ImageNet, torchvision): resnet18.pth loaded, 11,176,512 weights', { timeout: 60_000 });

  await page.getByTestId('strategy').selectOption('medical');
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  const run = await page.evaluate(async () => (await window.studio!.engine.runs())[0]);
  expect(run).toMatchObject({ status: 'completed', model: 'resnet18_imagenet', strategy: 'medical', checkpoint: { best: 1, last: 1 } });
  expect(run.input?.normalization).toEqual({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
  // Augmentation off: the frozen ResNet's pooled features were computed once.
  expect(run.featureCache).toBeTruthy();

  await gotoStep(page, 'use');
  const form = page.getByTestId('register-form');
  await form.getByTestId('register-name').fill('resnet-mri');
  await form.getByTestId('register-version').fill('1.0.0');
  await form.getByTestId('register-threshold').fill('0');
  await expect(form.getByTestId('register-submit')).toBeEnabled();
  await form.getByTestId('register-submit').click();
  await expect(page.locator('[data-testid="model-version"][data-id="resnet-mri@1.0.0"]')).toBeVisible({ timeout: 2 * 60_000 });

  const panel = page.getByTestId('registry-panel');
  const [onnx] = await Promise.all([page.waitForEvent('download', { timeout: 4 * 60_000 }), panel.getByTestId('download-onnx').click()]);
  expect(onnx.suggestedFilename()).toBe('resnet-mri-1.0.0.onnx');
  const parity = panel.getByTestId('onnx-parity');
  await expect(parity).toHaveAttribute('data-passed', 'true');
  console.log(`ONNX parity of the torchvision-weights model: max |Δp| ${await parity.getAttribute('data-max-difference')}`);
  expect(readFileSync((await onnx.path())!).length).toBeGreaterThan(40e6);
});

test('the CLI fine-tunes the last block of resnet18_imagenet from --weights after a probe epoch', async () => {
  const pth = writePth();
  const dir = mkdtempSync(join(tmpdir(), 'studio-cli-'));
  const out = join(dir, 'run.json');
  const args = ['tsx', 'cli/studio.ts', 'train', '--data', phantomFolder(['a', 'b'], 8), '--image-size', '32', '--model', 'resnet18_imagenet', '--weights', pth, '--strategy', 'finetune', '--trainable-blocks', '1', '--probe-epochs', '1', '--epochs', '2', '--out', out, '--port', '0', '--profile', join(dir, 'profile')];
  const r = spawnSync('npx', args, { encoding: 'utf8', timeout: 5 * 60_000 });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toContain('ResNet-18 (ImageNet, torchvision): resnet18.pth loaded, 11,176,512 weights');
  const run = JSON.parse(readFileSync(out, 'utf8'));
  expect(run).toMatchObject({ model: 'resnet18_imagenet', strategy: 'finetune', optimizer: 'adamax', checkpoint: { last: 2 } });
  expect(run.epochs.map((e: { phase?: string }) => e.phase)).toEqual(['probe', 'finetune']);

  // A MobileNet takes no torchvision file.
  const refused = spawnSync('npx', [...args.slice(0, 8), 'mobilenet_v2_0.35_224', ...args.slice(9)], { encoding: 'utf8', timeout: 2 * 60_000 });
  expect(refused.status).not.toBe(0);
  expect(refused.stderr).toContain('--weights: mobilenet_v2_0.35_224 does not take a weights file (xception, resnet18_imagenet, resnet50_imagenet');
});

/** Opens the studio at `url` on WebGPU and starts one frozen epoch of resnet18_imagenet on a small phantom folder. */
async function trainFrozenResnet(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await importFolder(page, phantomFolder(['a', 'b'], 4));
  await chooseModel(page, 'resnet18_imagenet');
  await page.getByTestId('strategy').selectOption('frozen');
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('train-demo').click();
}

test('the official URL: a download whose SHA-256 is not the one in its name is refused; an unreadable one gives the link to fetch by hand', async ({ page, context }) => {
  const pth = readFileSync(writePth());
  const url = 'https://download.pytorch.org/models/resnet18-f37072fd.pth';
  const asked: string[] = [];
  // Tests never reach the internet: the first request gets a random-init file in place of the official one, the
  // second fails as an offline browser's would.
  await context.route('https://download.pytorch.org/**', (route) => {
    asked.push(route.request().url());
    if (asked.length > 1) return route.abort('internetdisconnected');
    return route.fulfill({ body: pth, headers: { 'access-control-allow-origin': '*', 'content-type': 'application/octet-stream', 'content-length': String(pth.length) } });
  });
  await trainFrozenResnet(page, '/?backend=webgpu');
  const error = page.getByTestId('train-error');
  await expect(error).toContainText("ResNet-18 (ImageNet, torchvision): the downloaded file's SHA-256 starts", { timeout: 2 * 60_000 });
  await expect(error).toContainText(`not f37072fd as torchvision's file name says (a damaged or changed download). Download ${url} by hand and pick it with “Choose weights file…”`);
  await expect(error.getByTestId('weights-link')).toHaveAttribute('href', url);

  await page.getByTestId('train-demo').click();
  await expect(error).toContainText('the browser could not read the official weights file (offline, or the server does not allow this page to read it)', { timeout: 2 * 60_000 });
  await expect(error.getByTestId('weights-link')).toHaveAttribute('href', url);
  expect(asked).toEqual([url, url]);
});

/** A models folder in public/models/'s layout, `<id>/weights.pth`, as an offline install or --models-dir holds it. */
function modelsFolder(pth: string | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'studio-models-'));
  mkdirSync(join(dir, 'resnet18_imagenet'));
  if (pth) copyFileSync(pth, join(dir, 'resnet18_imagenet', 'weights.pth'));
  else writeFileSync(join(dir, 'resnet18_imagenet', 'weights.pth'), 'not a state_dict');
  return dir;
}

test("the page takes resnet18_imagenet's weights from its own /models/<id>/weights.pth, before the official URL", async ({ page, context }) => {
  const models = modelsFolder(writePth());
  // The app server with public/models/ as the build has it (dist/models/), here mounted from a temp folder.
  const server = await serveStatic(DIST, 0, '127.0.0.1', { '/models/': models });
  const asked: string[] = [];
  context.on('request', (r) => void (/\.(pth|safetensors)$/.test(r.url()) && asked.push(r.url())));
  // Tests never reach the internet: the official host fails as offline.
  await context.route('https://download.pytorch.org/**', (route) => route.abort('internetdisconnected'));
  try {
    await trainFrozenResnet(page, `${server.url}?backend=webgpu`);
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
    const run = await page.evaluate(async () => (await window.studio!.engine.runs())[0]);
    expect(run).toMatchObject({ status: 'completed', model: 'resnet18_imagenet', strategy: 'frozen' });
    expect(run.featureCache).toBeTruthy();
    // The official file's name first (a folder may hold it under that name), then weights.pth; never the official host.
    // A page the service worker controls may ask twice for one file (its fetch, then the worker's own).
    expect([...new Set(asked)]).toEqual([`${server.url}models/resnet18_imagenet/resnet18-f37072fd.pth`, `${server.url}models/resnet18_imagenet/weights.pth`]);
  } finally {
    await server.close();
  }
});

test('the CLI takes resnet18_imagenet from --models-dir; a file there that is no state_dict is named in the error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-cli-'));
  const out = join(dir, 'run.json');
  const train = (models: string) =>
    spawnSync('npx', ['tsx', 'cli/studio.ts', 'train', '--data', phantomFolder(['a', 'b'], 6), '--image-size', '32', '--model', 'resnet18_imagenet', '--strategy', 'frozen', '--epochs', '1', '--models-dir', models, '--out', out, '--port', '0', '--profile', join(dir, 'profile')], { encoding: 'utf8', timeout: 5 * 60_000 });
  // A bad file is read and refused, and not cached: the folder is where the weights came from.
  const bad = train(modelsFolder(null));
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toContain('the file under /models/resnet18_imagenet/ is not a weights file for ResNet-18 (ImageNet, torchvision)');
  const good = train(modelsFolder(writePth()));
  expect(good.status, good.stderr).toBe(0);
  // Nothing was downloaded: the CLI prints the progress of any download.
  expect(good.stdout).not.toContain('downloading resnet18_imagenet weights');
  expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ model: 'resnet18_imagenet', strategy: 'frozen', status: 'completed', featureCache: expect.anything() });
});
