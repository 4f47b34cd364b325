import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { CONTENT_SECURITY_POLICY, ISOLATION_HEADERS, studioHeaders } from './cli/security';

/**
 * The built index.html carries the policy too, so a copy of dist/ on any static host keeps it (headers are what
 * bind the workers, hence the servers below send them as well). Not in dev: Vite's dev client needs inline code.
 */
const cspMeta: Plugin = {
  name: 'mri-studio-csp-meta',
  apply: 'build',
  transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY }, injectTo: 'head-prepend' }],
};

/**
 * Lists every file of the build for the service worker (public/sw.js) to cache at install, so that after one visit
 * the studio works offline. Backbones in public/models/ are left out: weights a user trained with are already kept
 * in IndexedDB.
 */
const precacheList: Plugin = {
  name: 'mri-studio-precache',
  apply: 'build',
  writeBundle(options) {
    const out = options.dir!;
    const walk = (dir: string): string[] => readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? walk(join(dir, name)) : [join(dir, name)]));
    const files = walk(out)
      .map((f) => relative(out, f).split('\\').join('/'))
      .filter((f) => f !== 'sw.js' && f !== 'precache.json' && !f.startsWith('models/'))
      .map((f) => (f === 'index.html' ? './' : f));
    writeFileSync(join(out, 'precache.json'), JSON.stringify({ files }, null, 1));
  },
};

export default defineConfig({
  plugins: [svelte(), cspMeta, precacheList],
  // The engine worker is an ES module (it imports TF.js and comlink). It is neither mangled nor compressed, only
  // stripped of whitespace: the TF.js WASM backend starts its threads from the source text of a function
  // (Function.prototype.toString) that refers to a variable outside it, and a renamed or inlined variable breaks
  // every thread ("e is not defined", "_scriptDir is not defined"). Costs ~3 % of the worker's size.
  worker: { format: 'es', rolldownOptions: { output: { minify: { compress: false, mangle: false } } } },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
  // Dev keeps only isolation (the dev client's inline scripts would break under the policy); preview is the real thing.
  server: { strictPort: true, headers: ISOLATION_HEADERS },
  preview: { headers: studioHeaders() },
});
