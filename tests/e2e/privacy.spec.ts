import { expect, test } from '@playwright/test';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '../../cli/serve';
import { phantomFolder } from '../fixtures/folders';
import { chooseModel, gotoStep, importFolder } from '../fixtures/studio-ui';
import { hasPretrained, PRETRAINED_DIR, servePretrained } from '../fixtures/pretrained';

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist');
const MODEL = 'mobilenet_v2_0.35_224';

test('the built site runs under its Content-Security-Policy, cross-origin isolated, and trains the demo', async ({ page }) => {
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  const res = await page.goto('/');
  const csp = res!.headers()['content-security-policy'];
  expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
  expect(csp).not.toContain("'unsafe-eval'");
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  // The policy is enforced, not only sent: an injected inline script is refused. (Playwright's own evaluate runs
  // outside the policy, so the probe is a script element, as an attacker's injection would be.)
  const probe = await page.evaluate(
    () =>
      new Promise<{ ran: boolean; directive: string }>((done) => {
        document.addEventListener('securitypolicyviolation', (e) => done({ ran: 'injected' in window, directive: e.effectiveDirective }), { once: true });
        const s = document.createElement('script');
        s.textContent = 'window.injected = true';
        document.head.append(s);
      }),
  );
  expect(probe).toEqual({ ran: false, directive: 'script-src-elem' });
  violations.length = 0;
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);

  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('image-size').fill('16');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  // WebAssembly compiles under 'wasm-unsafe-eval' (the WASM backend runs its self-test).
  await page.getByTestId('backend-select').selectOption('wasm');
  await expect(page.getByTestId('backend-name')).toHaveText('wasm', { timeout: 60_000 });
  expect(violations).toEqual([]);
});

test('import → train → evaluate → register → export sends no request to any host but the studio’s own, and the header says so', async ({ page, context }) => {
  // Pretrained weights come from a local models folder served by the studio itself, as an offline install has them.
  const local = hasPretrained(MODEL);
  if (!local) console.log(`privacy: ../shared/pretrained/${MODEL} is absent, so this test trains the built-in CNN only`);
  const server = await serveStatic(DIST, 0, '127.0.0.1', local ? { '/models/': PRETRAINED_DIR } : {});
  const requests: { url: string; method: string; bySw: boolean }[] = [];
  // The context sees the page's requests, its workers' and its service worker's (which precaches the build).
  context.on('request', (r) => requests.push({ url: r.url(), method: r.method(), bySw: r.serviceWorker() !== null }));
  try {
    await page.goto(server.url);
    await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
    await importFolder(page, phantomFolder(['glioma', 'meningioma', 'pituitary'], 8));
    if (local) {
      await chooseModel(page, MODEL);
      await page.getByTestId('strategy').selectOption('frozen');
    }
    await gotoStep(page, 'train');
    await page.getByTestId('epochs').fill('1');
    await page.getByTestId('train-demo').click();
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });

    // The rest of the model's life, through the page's own engine (the registry has no panel yet).
    const after = await page.evaluate(async () => {
      const s = window.studio!;
      const [run] = await s.engine.runs();
      const evaluation = await s.engine.evaluate({ runId: run.runId, latencySamples: 3 }, s.events);
      // One epoch on 17 phantoms is under the registry's accuracy bar: the override is recorded, as a user's would be.
      const version = await s.engine.register({ runId: run.runId, name: 'privacy-check', version: '1.0.0', overrideReason: 'end-to-end privacy test' });
      const tfjs = await s.engine.exportModel('privacy-check@1.0.0', 'tfjs');
      const onnx = await s.engine.exportModel('privacy-check@1.0.0', 'onnx', { parityImages: 2 });
      return { tested: evaluation.data.images, version: `${version.name}@${version.version}`, tfjs: tfjs.files.map((f) => f.name), onnx: onnx.files.map((f) => f.name), parity: onnx.parity };
    });
    expect(after.tested).toBeGreaterThan(0);
    expect(after.version).toBe('privacy-check@1.0.0');
    expect(after.tfjs).toContain('model.json');
    expect(after.onnx.some((f) => f.endsWith('.onnx'))).toBe(true);
    expect(after.parity?.passed).toBe(true);

    const origin = new URL(server.url).origin;
    const elsewhere = requests.filter((r) => !/^(data|blob):/.test(r.url) && new URL(r.url).origin !== origin);
    expect(elsewhere).toEqual([]);
    expect(requests.filter((r) => r.method !== 'GET')).toEqual([]);
    // The recording saw the engine worker's requests, not only the page's: the backbone, and the WASM that the ONNX
    // parity check's onnxruntime-web loaded (not the service worker's precache of the same file).
    if (local) expect(requests.some((r) => !r.bySw && r.url.endsWith(`/models/${MODEL}/model.json`))).toBe(true);
    expect(requests.some((r) => !r.bySw && /\/assets\/ort-wasm[^/]*\.wasm$/.test(r.url))).toBe(true);

    await expect(page.getByTestId('network-local')).toHaveText('Network: only this site', { timeout: 10_000 });
    if (local) await expect(page.getByTestId('network-status')).toContainText('pretrained weights');
  } finally {
    await server.close();
  }
});

test('the header names another host when weights come from the official URL', async ({ page, context }) => {
  test.skip(!hasPretrained(MODEL), `../shared/pretrained/${MODEL} is absent`);
  await servePretrained(context);
  await page.goto('/');
  await expect(page.getByTestId('backend-name')).toHaveText('webgpu', { timeout: 60_000 });
  await importFolder(page, phantomFolder(['a', 'b'], 6));
  await chooseModel(page, MODEL);
  await gotoStep(page, 'train');
  await page.getByTestId('epochs').fill('1');
  await page.getByTestId('train-demo').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-status', 'completed', { timeout: 5 * 60_000 });
  await expect(page.getByTestId('network-host')).toContainText('storage.googleapis.com', { timeout: 10_000 });
  await expect(page.getByTestId('network-host')).toContainText('pretrained weights');
});
