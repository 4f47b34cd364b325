/**
 * onnxruntime-web in the engine worker, for the parity check of an ONNX export. Loaded on demand (a dynamic
 * import), so its JavaScript and 14 MB of WASM are fetched only when a user exports to ONNX. The WASM binary is
 * served from our own origin (Vite `?url`), never from a CDN.
 */
import * as ort from 'onnxruntime-web/wasm';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';

ort.env.wasm.wasmPaths = { wasm: wasmUrl };
// Threads need a cross-origin-isolated page, which the studio is not; one thread is plenty for a few images.
ort.env.wasm.numThreads = 1;

export const runtimeName = `onnxruntime-web ${ort.env.versions.web ?? ort.env.versions.common} (wasm)`;

/** Runs the model's single input → single output on float32 NHWC pixels. */
export async function runOnnx(bytes: Uint8Array, input: string, output: string, pixels: Float32Array, shape: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  try {
    const result = await session.run({ [input]: new ort.Tensor('float32', pixels, shape) });
    return result[output].data as Float32Array;
  } finally {
    await session.release();
  }
}
