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

export default defineConfig({
  plugins: [svelte(), cspMeta],
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
