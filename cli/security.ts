/**
 * The HTTP headers the studio is served with, by every server we ship (the CLI's, the tests', `vite preview`).
 *
 * Content-Security-Policy: scripts only from our own origin, no `eval` (WebAssembly compilation needs
 * 'wasm-unsafe-eval', nothing more); network reads only from our origin and the hosts that serve the official
 * pretrained weights; nothing can be posted anywhere (form-action 'none'). Styles allow inline values because
 * Svelte and uPlot set style attributes; a style cannot send data anywhere that connect-src and img-src do not allow.
 *
 * Cross-origin isolation (COOP + COEP) lets the page share memory with its workers, which the TF.js WASM backend
 * needs to run on several threads (see `npm run bench -- --only isolation`). Weights fetched from the official URLs
 * still load under `require-corp`: they are CORS requests, which COEP accepts.
 */

/**
 * Where the zoo's official ImageNet weights live (src/core/models/zoo.ts): TF.js's MobileNets and torchvision's
 * checkpoints. The only hosts the studio contacts.
 */
export const WEIGHTS_HOSTS = ['https://storage.googleapis.com', 'https://download.pytorch.org'];

const DIRECTIVES: Record<string, string> = {
  'default-src': "'self'",
  // The TF.js WASM backend starts its threads as Blob-URL workers that importScripts() another Blob URL: both
  // need blob:, which only code already running in the page can mint.
  'script-src': "'self' 'wasm-unsafe-eval' blob:",
  'worker-src': "'self' blob:",
  'connect-src': `'self' ${WEIGHTS_HOSTS.join(' ')}`,
  'img-src': "'self' data: blob:",
  'style-src': "'self' 'unsafe-inline'",
  'object-src': "'none'",
  'base-uri': "'self'",
  'form-action': "'none'",
};

/** The policy as a `<meta http-equiv>` can carry it (frame-ancestors is header-only). */
export const CONTENT_SECURITY_POLICY = Object.entries(DIRECTIVES)
  .map(([k, v]) => `${k} ${v}`)
  .join('; ');

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;

/** Every response's security headers; `isolated: false` only to measure what isolation buys. */
export function studioHeaders({ isolated = true }: { isolated?: boolean } = {}): Record<string, string> {
  return {
    'Content-Security-Policy': `${CONTENT_SECURITY_POLICY}; frame-ancestors 'none'`,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    ...(isolated ? ISOLATION_HEADERS : {}),
  };
}
