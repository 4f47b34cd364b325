import type { SharedFolderListing } from './engine/automation';
import { eventSink, type EngineProxy } from './engine/client';
import { EngineError } from './engine/errors';
import type { BackendInfo } from './engine/types';
import type { Studio } from './ui/studio.svelte';

/** Files fetched at once from a shared folder: enough to keep loopback busy without thousands of requests queued. */
const FETCH_LANES = 8;

/** Installs `window.studio` (see src/engine/automation.ts) over the page's own Studio and engine. */
export function exposeAutomation(studio: Studio, engine: EngineProxy): void {
  const fetched = async (url: string): Promise<Blob> => {
    const res = await fetch(url);
    if (!res.ok) throw new EngineError('E_NOT_FOUND', `E_NOT_FOUND: ${decodeURIComponent(url)} could not be read (HTTP ${res.status})`);
    return res.blob();
  };
  window.studio = {
    engine: withCodesInMessages(engine),
    ui: withCodesInMessages(studio),
    async ready(): Promise<BackendInfo> {
      while (!studio.backend && !studio.backendError) await new Promise((r) => setTimeout(r, 50));
      if (studio.backendError) throw new Error(`${studio.backendError.code}: ${studio.backendError.message}${studio.backendError.detail ? ` (${studio.backendError.detail})` : ''}`);
      // A plain copy: the rune state is a proxy, which cannot be sent to the driver.
      return JSON.parse(JSON.stringify(studio.backend)) as BackendInfo;
    },
    events: eventSink((e) => window.onStudioEvent?.(e)),
    async folder(url) {
      const base = url.endsWith('/') ? url : `${url}/`;
      const { name, paths } = (await (await fetched(base)).text().then(JSON.parse)) as SharedFolderListing;
      const files: File[] = new Array(paths.length);
      let next = 0;
      await Promise.all(
        Array.from({ length: FETCH_LANES }, async () => {
          for (let k = next++; k < paths.length; k = next++) {
            const path = paths[k];
            files[k] = new File([await fetched(base + path.split('/').map(encodeURIComponent).join('/'))], path.slice(path.lastIndexOf('/') + 1));
          }
        }),
      );
      return { kind: 'files', name, files, paths: paths.map((p) => `${name}/${p}`) };
    },
    async file(url) {
      return new File([await fetched(url)], decodeURIComponent(url.slice(url.lastIndexOf('/') + 1)));
    },
  };
}

/**
 * A driver reads a rejection through page.evaluate, which keeps only its message: an EngineError's code goes in front
 * of the message ("E_WORKER_LOST: the engine worker stopped: …"), as the UI shows it, so the CLI prints the same
 * code. It also stays on the error's `code` for a caller inside the page.
 */
function withCodesInMessages<T extends object>(target: T): T {
  const coded = (err: unknown): never => {
    if (err instanceof EngineError && !err.message.startsWith(`${err.code}:`)) throw new EngineError(err.code, `${err.code}: ${err.message}`, err.detail);
    throw err;
  };
  return new Proxy(target, {
    get(t, key) {
      const value: unknown = Reflect.get(t, key);
      return typeof value === 'function' ? (...args: unknown[]) => Promise.resolve(value.apply(t, args)).catch(coded) : value;
    },
  });
}
