import { defineConfig } from '@playwright/test';
import { CHROMIUM_FLAGS, resolveBrowser } from './cli/browser';

// End-to-end tests drive Debian's Chromium (Playwright's own browser download is not available here) against
// the built studio, with real WebGPU on SwiftShader. Training on an emulated GPU is slow, hence the long timeout
// and one worker: two trainings at once on two cores would only make both slower.
// STUDIO_TEST_PORT lets two checkouts run their suites side by side.
const port = Number(process.env.STUDIO_TEST_PORT ?? 4173);

export default defineConfig({
  testDir: 'tests/e2e',
  timeout: 10 * 60_000,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}/`,
    launchOptions: { executablePath: resolveBrowser(process.env.STUDIO_BROWSER), args: CHROMIUM_FLAGS },
  },
  webServer: {
    command: `npx vite preview --host 127.0.0.1 --port ${port} --strictPort`,
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: !process.env.CI,
  },
});
