/*
 * The studio's service worker: after one visit the app works with the network off.
 *
 * - Install: caches every file of the build, as listed in precache.json (written by the build, see vite.config.ts),
 *   including what the first visit never loaded (the WASM binaries, the decoder worker).
 * - Pages: network first (a new release is picked up when online), the cached page when the network fails.
 * - Everything else of this origin (hashed, immutable assets; a local models folder): cache first.
 * - Other origins (the official pretrained weights) are not touched: the engine keeps downloaded weights in
 *   IndexedDB, so a backbone used once is there offline too.
 * Hand-written plain JavaScript because a service worker must be one classic script at a fixed URL.
 */
const CACHE = 'mri-studio-app';

async function precache() {
  const res = await fetch('precache.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`precache.json: HTTP ${res.status}`);
  const { files } = await res.json();
  const cache = await caches.open(CACHE);
  const wanted = new Set(files.map((f) => new URL(f, self.registration.scope).href));
  await cache.addAll([...wanted]);
  // Files of an older build are dropped once the new list is in.
  for (const req of await cache.keys()) if (!wanted.has(req.url) && !new URL(req.url).pathname.includes('/models/')) await cache.delete(req);
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

async function page(request) {
  try {
    const res = await fetch(request);
    if (res.ok) {
      const cache = await caches.open(CACHE);
      await cache.put(new URL('./', self.registration.scope).href, res.clone());
      // A page from the network may belong to a new build: bring the cache up to date in the background.
      precache().catch(() => undefined);
    }
    return res;
  } catch {
    const cached = await caches.match(new URL('./', self.registration.scope).href);
    return cached ?? Response.error();
  }
}

async function asset(request) {
  const cached = await caches.match(request);
  if (cached) return cached;
  const res = await fetch(request);
  if (res.ok) (await caches.open(CACHE)).put(request, res.clone());
  return res;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(request.mode === 'navigate' ? page(request) : asset(request));
});
