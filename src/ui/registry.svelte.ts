/** The registry and storage views' state: registered versions and exports, through the Engine interface only. */
import type { EngineProxy } from '../engine/client';
import type { ExportedFile, ModelExport, ModelVersion, OnnxParity, RegisterModelRequest, StorageGroupUsage } from '../engine/types';
import { describeError, type ShownError } from './shown-error';

/** What the browser says about this site's storage (navigator.storage), plus the studio's own breakdown. */
export interface StorageView {
  usage: number | null;
  quota: number | null;
  /** null: the browser has no StorageManager.persisted (the data is then best-effort). */
  persisted: boolean | null;
  groups: StorageGroupUsage[];
}

export class RegistryState {
  // Raw: the list is replaced whole after every change, never edited in place.
  versions = $state.raw<ModelVersion[]>([]);
  error = $state<ShownError | null>(null);
  /** The version id and what is being done to it (register, export, delete…), one at a time. */
  busy = $state<{ id: string; what: string } | null>(null);
  /** The last ONNX export's parity check, per version id. */
  parity = $state<Record<string, OnnxParity>>({});
  /** A line saying where the last export went. */
  saved = $state<string | null>(null);
  storage = $state<StorageView | null>(null);
  storageError = $state<ShownError | null>(null);

  constructor(private readonly engine: EngineProxy) {}

  async refresh(): Promise<void> {
    this.versions = await this.engine.models();
  }

  /** Runs one registry action; a refusal is shown and nothing else changes. Resolves to null on failure. */
  private async act<T>(id: string, what: string, work: () => Promise<T>): Promise<T | null> {
    this.busy = { id, what };
    this.error = null;
    try {
      const result = await work();
      await this.refresh();
      void this.refreshStorage();
      return result;
    } catch (err) {
      this.error = describeError(err);
      return null;
    } finally {
      this.busy = null;
    }
  }

  register(req: RegisterModelRequest): Promise<ModelVersion | null> {
    return this.act(`${req.name}@${req.version}`, 'register', () => this.engine.register(req));
  }

  importModel(files: ExportedFile[], req: Omit<RegisterModelRequest, 'runId'>): Promise<ModelVersion | null> {
    return this.act(`${req.name}@${req.version}`, 'import', () => this.engine.importModel(files, req));
  }

  setAlias(id: string, alias: string): Promise<ModelVersion | null> {
    return this.act(id, 'alias', () => this.engine.setAlias(id, alias));
  }

  removeAlias(v: ModelVersion, alias: string): Promise<void | null> {
    return this.act(v.id, 'alias', () => this.engine.removeAlias(v.name, alias));
  }

  remove(id: string): Promise<void | null> {
    return this.act(id, 'delete', () => this.engine.deleteModel(id));
  }

  /** Exports a version; an ONNX export's parity result is kept for the view. */
  async export(id: string, format: 'tfjs' | 'onnx', zip: boolean): Promise<ModelExport | null> {
    this.saved = null;
    const out = await this.act(id, format, () => this.engine.exportModel(id, format, { zip }));
    if (out?.parity) this.parity = { ...this.parity, [id]: out.parity };
    return out;
  }

  /** Usage against quota, whether the data is persistent, and the studio's share by kind. */
  async refreshStorage(): Promise<void> {
    try {
      const [estimate, persisted, groups] = await Promise.all([navigator.storage?.estimate?.() ?? {}, navigator.storage?.persisted?.() ?? null, this.engine.storageUsage()]);
      this.storage = { usage: estimate.usage ?? null, quota: estimate.quota ?? null, persisted, groups };
      this.storageError = null;
    } catch (err) {
      this.storageError = describeError(err);
    }
  }

  /** Asks the browser not to evict the studio's data (must follow a click); says when it declined. */
  async persist(): Promise<void> {
    if (!navigator.storage?.persist) {
      this.storageError = { code: 'E_UNSUPPORTED', message: 'this browser cannot make site data persistent; it may clear it when the disk runs low' };
      return;
    }
    const granted = await navigator.storage.persist();
    await this.refreshStorage();
    if (!granted) this.storageError = { code: 'E_DECLINED', message: 'the browser declined to make this site\'s data persistent (it decides from how you use the site, e.g. a bookmark or an installed app); the data stays, but may be cleared when the disk runs low' };
  }
}
