/**
 * Test-only page script: the real engine worker (src/engine/client.ts → workers/engine.worker.ts) behind a few
 * functions Playwright can call. The built studio has no UI for the registry yet, and window.studio does not
 * reach it; this page calls the same Engine interface the UI will. Bytes travel to the test as base64.
 */
import * as Comlink from 'comlink';
import { createEngine } from '../../../src/engine/client';
import type { BackendInfo, BackendName, DatasetSummary, ImportOptions, ModelExport, ModelVersion, RegisterModelRequest, RunRecord, TrainConfig } from '../../../src/engine/types';

export type HarnessExport = Omit<ModelExport, 'files'> & { files: { name: string; base64: string }[] };

export interface ExportHarness {
  init(backend: BackendName | 'auto'): Promise<BackendInfo>;
  /** Scans and imports the files last set on the page's folder input. */
  importFolder(opts: ImportOptions): Promise<DatasetSummary>;
  train(cfg: TrainConfig): Promise<RunRecord>;
  register(req: RegisterModelRequest): Promise<ModelVersion>;
  models(): Promise<ModelVersion[]>;
  exportModel(ref: string, format: 'tfjs' | 'onnx', opts?: { zip?: boolean }): Promise<HarnessExport>;
  importModel(files: { name: string; base64: string }[], req: Omit<RegisterModelRequest, 'runId'>): Promise<ModelVersion>;
}

declare global {
  interface Window {
    exportHarness: ExportHarness;
  }
}

const { engine } = createEngine();

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
const fromBase64 = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

window.exportHarness = {
  init: (backend) => engine.init(backend),
  async importFolder(opts) {
    const files = Array.from((document.getElementById('folder') as HTMLInputElement).files ?? []);
    const paths = files.map((f) => f.webkitRelativePath || f.name);
    await engine.scanFolder({ kind: 'files', name: paths[0]?.split('/')[0] ?? 'folder', files, paths });
    return engine.importDataset(opts, Comlink.proxy(() => undefined));
  },
  train: (cfg) => engine.train(cfg, Comlink.proxy(() => undefined)),
  register: (req) => engine.register(req),
  models: () => engine.models(),
  async exportModel(ref, format, opts) {
    const out = await engine.exportModel(ref, format, opts);
    return { ...out, files: out.files.map((f) => ({ name: f.name, base64: toBase64(f.bytes) })) };
  },
  importModel: (files, req) => engine.importModel(files.map((f) => ({ name: f.name, bytes: fromBase64(f.base64) })), req),
};
