/** The inference panel's state: a registered model, the images to classify, their predictions and the audit log. */
import { eventSink, type EngineProxy } from '../engine/client';
import type { AuditEntry, ModelVersion, PredictOptions, PredictResult } from '../engine/types';
import { tracked, type ShownError } from './shown-error';

export type AuditMode = NonNullable<PredictOptions['audit']>;
const AUDIT_KEY = 'mri-studio.audit';
const AUDIT_MODES: AuditMode[] = ['off', 'hashes', 'names'];

export interface PickedImage {
  name: string;
  file: File;
  /** An object URL of the file, for its thumbnail (revoked when the images are replaced). */
  url: string;
}

/** Every ref the registry answers: NAME@VERSION for each version and NAME@ALIAS for each alias. */
export function modelRefs(models: ModelVersion[]): { ref: string; label: string }[] {
  return models.flatMap((v) => [
    ...v.aliases.map((a) => ({ ref: `${v.name}@${a}`, label: `${v.name}@${a} → ${v.version}` })),
    { ref: v.id, label: `${v.id}${v.gate.passed ? '' : ' (below the gate, overridden)'}` },
  ]);
}

export class InferenceState {
  models = $state.raw<ModelVersion[]>([]);
  /** The chosen ref; empty until the user chooses (nothing runs on a model nobody picked). */
  ref = $state('');
  images = $state.raw<PickedImage[]>([]);
  result = $state.raw<PredictResult | null>(null);
  running = $state(false);
  progress = $state<{ done: number; total: number } | null>(null);
  error = $state<ShownError | null>(null);
  /** Off unless the user turns it on; remembered in this browser. */
  audit = $state<AuditMode>('off');
  /** The log as last shown (null: not shown). */
  auditEntries = $state.raw<AuditEntry[] | null>(null);

  constructor(private readonly engine: EngineProxy) {
    const saved = globalThis.localStorage?.getItem(AUDIT_KEY);
    if (AUDIT_MODES.includes(saved as AuditMode)) this.audit = saved as AuditMode;
  }

  async refreshModels(): Promise<void> {
    this.models = await this.engine.models();
  }

  setAudit(mode: AuditMode): void {
    this.audit = mode;
    localStorage.setItem(AUDIT_KEY, mode);
  }

  /** New images replace the shown ones, and are classified at once when a model is chosen. */
  async pick(files: File[], names: string[] = files.map((f) => f.webkitRelativePath || f.name)): Promise<PredictResult | null> {
    for (const im of this.images) URL.revokeObjectURL(im.url);
    // In name order, as a file manager lists them: the browser's order of a folder's files is arbitrary.
    this.images = files.map((file, k) => ({ name: names[k], file, url: URL.createObjectURL(file) })).sort((a, b) => a.name.localeCompare(b.name));
    this.result = null;
    this.error = null;
    return this.ref ? this.predict() : null;
  }

  async choose(ref: string): Promise<PredictResult | null> {
    this.ref = ref;
    this.result = null;
    return ref && this.images.length ? this.predict() : null;
  }

  predict(): Promise<PredictResult> {
    return tracked(this, async () => {
      const images = this.images.map((im) => ({ name: im.name, file: im.file }));
      const result = await this.engine.predict(this.ref, images, { audit: this.audit }, eventSink((p: { done: number; total: number }) => (this.progress = p)));
      this.result = result;
      if (this.auditEntries && this.audit !== 'off') await this.viewAudit();
      return result;
    });
  }

  predictionsCsv(): Promise<string> {
    if (!this.result) throw new Error('nothing predicted yet');
    return this.engine.predictionsCsv(this.result);
  }

  async viewAudit(): Promise<void> {
    this.auditEntries = await this.engine.auditLog();
  }

  async clearAudit(): Promise<void> {
    await this.engine.clearAuditLog();
    this.auditEntries = [];
  }

  auditCsv(): Promise<string> {
    return this.engine.auditLogCsv();
  }
}
