/** Test-only page script: hands bytes from the Playwright test to a module Worker running workers/decode.ts. */

export interface DecodeRequest {
  id: number;
  blob: Blob;
  size: number;
  channels: 1 | 3;
  /** Also decode with createImageBitmap and the canvas alone, and say where the two differ. */
  compare?: boolean;
}

export type DecodeResult =
  | {
      ok: true;
      size: number;
      channels: number;
      mean: number[];
      pixels: number[];
      length: number;
      sourceWidth: number;
      sourceHeight: number;
      via: 'memory' | 'bitmap';
      /** With `compare`: how many bytes differ from the plain createImageBitmap decode. */
      differing?: number;
    }
  | { ok: false; reason: string; message: string };

declare global {
  interface Window {
    decodeInWorker(base64: string, type: string, size: number, channels: 1 | 3, compare?: boolean): Promise<DecodeResult>;
  }
}

const worker = new Worker(new URL('./decode-worker.ts', import.meta.url), { type: 'module' });
const pending = new Map<number, (result: DecodeResult) => void>();
let nextId = 0;

worker.onmessage = (event: MessageEvent<{ id: number; result: DecodeResult }>) => {
  pending.get(event.data.id)?.(event.data.result);
  pending.delete(event.data.id);
};

// Base64 because page.evaluate can only pass JSON-like values, and a number[] of a large PNG is needlessly big.
window.decodeInWorker = (base64, type, size, channels, compare = false) =>
  new Promise((resolve) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const id = nextId++;
    pending.set(id, resolve);
    worker.postMessage({ id, blob: new Blob([bytes], { type }), size, channels, compare } satisfies DecodeRequest);
  });
