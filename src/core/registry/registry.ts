/**
 * The model registry: a run's best model registered under NAME@VERSION (semantic version), with a description,
 * key=value tags, aliases (`champion`, `candidate`, …; the seed's MLflow stages map onto them), an accuracy gate
 * and a generated model card. Each version keeps its own copy of the model as exported TF.js files, so deleting
 * a run never breaks a registered model, and exporting or re-importing it is a file copy.
 */
import type { StudioDB } from '../store/db';
import type { ModelMetadata } from '../export/metadata';
import type { ModelFiles } from '../export/tfjs';
import type { RunRecord } from '../train/types';
import type { ModelVersion } from '../store/records';
import { modelCard, pct, wilsonInterval, type CardEvaluation, type MedicalVerdict } from './card';
import { checkQuota, commitOrAbort, isQuotaError, type EstimateFn } from './quota';
import { compareSemver, parseSemver, semverProblem } from './semver';

export type { ModelVersion, StoredModelFile } from '../store/records';

export const DEFAULT_ACCURACY_THRESHOLD = 0.85;

export type RegistryErrorCode = 'E_NAME' | 'E_VERSION' | 'E_EXISTS' | 'E_GATE' | 'E_ALIAS' | 'E_TAG' | 'E_NOT_FOUND' | 'E_QUOTA' | 'E_RUN';

export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export interface RegisterRequest {
  name: string;
  version: string;
  description?: string;
  /** `key=value` strings (as the CLI takes them) or a record. */
  tags?: string[] | Record<string, string>;
  /** Aliases to point at this version (moved from whichever version of the same name held them). */
  aliases?: string[];
  /** The seed's MLflow stage (None, Staging, Production, Archived), added to `aliases` as STAGE_ALIASES maps it. */
  stage?: string;
  /** Registers a model below the accuracy threshold; the reason is recorded on the version and in its card. */
  overrideReason?: string;
  /** Validation accuracy required, 0..1 (0.85 by default). */
  threshold?: number;
}

export interface RegisterSource {
  /** The model as exportTfjs wrote it (model.json, weight shards, metadata.json). */
  files: ModelFiles;
  metadata: ModelMetadata;
  /** The run whose best epoch this is; absent for a model imported from files. */
  run?: RunRecord;
  /** For the card: a held-out evaluation and a medical-validation verdict, when they exist. */
  evaluation?: CardEvaluation;
  verdict?: MedicalVerdict;
}

export interface RegisterOptions {
  /** navigator.storage.estimate in the browser; absent in Node tests that do not need it. */
  estimate?: EstimateFn;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ALIAS = /^[a-z][a-z0-9_-]{0,31}$/;
const TAG_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/**
 * The seed's MLflow stages as aliases: Production → champion, Staging → candidate; None and Archived mean no
 * alias (an archived version stays in the registry, unaliased).
 */
export const STAGE_ALIASES: Readonly<Record<string, string | null>> = { production: 'champion', staging: 'candidate', none: null, archived: null };

export function aliasForStage(stage: string): string | null {
  const alias = STAGE_ALIASES[stage.toLowerCase()];
  if (alias === undefined) throw new RegistryError('E_ALIAS', `unknown MLflow stage "${stage}": expected None, Staging, Production or Archived`);
  return alias;
}

export function nameProblem(name: string): string | null {
  return NAME.test(name) ? null : `model name "${name}" must be 1 to 64 characters: lowercase letters, digits, ".", "_" or "-", starting with a letter or digit (e.g. brain-mri)`;
}

export function aliasProblem(alias: string): string | null {
  if (parseSemver(alias)) return `alias "${alias}" looks like a version; NAME@${alias} would be ambiguous`;
  return ALIAS.test(alias) ? null : `alias "${alias}" must be 1 to 32 characters: lowercase letters, digits, "_" or "-", starting with a letter (e.g. champion)`;
}

/** `["site=oslo", "scanner=3T"]` → `{ site: "oslo", scanner: "3T" }`, naming the first bad entry. */
export function parseTags(tags: string[] | Record<string, string> = {}): Record<string, string> {
  const entries = Array.isArray(tags)
    ? tags.map((t): [string, string] => {
        const eq = t.indexOf('=');
        if (eq < 0) throw new RegistryError('E_TAG', `tag "${t}" must be key=value`);
        return [t.slice(0, eq).trim(), t.slice(eq + 1).trim()];
      })
    : Object.entries(tags);
  const out: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (!TAG_KEY.test(key)) throw new RegistryError('E_TAG', `tag key "${key}" must start with a letter and hold only letters, digits, ".", "_" or "-" (at most 64)`);
    if (key in out) throw new RegistryError('E_TAG', `tag "${key}" is given twice`);
    if (typeof value !== 'string' || value.length > 256) throw new RegistryError('E_TAG', `tag "${key}" needs a text value of at most 256 characters`);
    out[key] = value;
  }
  return out;
}

/** What a registration is judged on: the run, or (imported files) the metadata's recorded validation. */
export type ReviewSource = { run?: RunRecord; metadata?: Pick<ModelMetadata, 'validation'> };

function validationOf(source: ReviewSource): { accuracy: number; n: number } | null {
  const { run, metadata } = source;
  if (run) return run.best ? { accuracy: run.best.valAccuracy, n: run.split.val } : null;
  return metadata?.validation ?? null;
}

export interface RegistrationProblem {
  field: 'name' | 'version' | 'aliases' | 'tags' | 'threshold' | 'run' | 'gate';
  /** The registry's refusal code (E_NAME, E_VERSION, E_EXISTS, E_GATE, …). */
  code: RegistryErrorCode;
  message: string;
}

/** What a registration would do, or why it would be refused, before anything is built or written. */
export interface RegistrationReview {
  /** In the order registerModel checks them; empty when the request would be accepted. */
  problems: RegistrationProblem[];
  /** The aliases the version would get: the given ones and the stage's. */
  aliases: string[];
  tags: Record<string, string>;
  gate: { accuracy: number | null; threshold: number; passed: boolean; overridden: boolean };
}

/**
 * Checks a request against the model it would register (a run, or imported metadata), collecting every problem:
 * the form shows them as the user types, and registerModel refuses with the first.
 */
export function reviewRegistration(req: RegisterRequest, source: ReviewSource): RegistrationReview {
  const problems: RegistrationProblem[] = [];
  const add = (field: RegistrationProblem['field'], code: RegistryErrorCode, message: string | null) => {
    if (message) problems.push({ field, code, message });
  };
  add('name', 'E_NAME', nameProblem(req.name));
  add('version', 'E_VERSION', semverProblem(req.version));
  const aliases = [...new Set(req.aliases ?? [])];
  for (const a of aliases) add('aliases', 'E_ALIAS', aliasProblem(a));
  if (req.stage !== undefined && req.stage !== '') {
    try {
      const staged = aliasForStage(req.stage);
      if (staged && !aliases.includes(staged)) aliases.push(staged);
    } catch (err) {
      add('aliases', 'E_ALIAS', (err as Error).message);
    }
  }
  let tags: Record<string, string> = {};
  try {
    tags = parseTags(req.tags);
  } catch (err) {
    add('tags', 'E_TAG', (err as Error).message);
  }
  const threshold = req.threshold ?? DEFAULT_ACCURACY_THRESHOLD;
  if (!(threshold >= 0 && threshold <= 1)) add('threshold', 'E_GATE', `the accuracy threshold must be between 0 and 1 (got ${threshold})`);
  const { run } = source;
  if (run && run.status !== 'completed') add('run', 'E_RUN', `run ${run.runId} is ${run.status}; only a completed run's best model can be registered`);
  else if (run && (run.checkpoint.best == null || !run.best)) add('run', 'E_RUN', `run ${run.runId} has no best checkpoint to register`);

  const validation = validationOf(source);
  const passed = validation !== null && validation.accuracy >= threshold;
  const overridden = !passed && Boolean(req.overrideReason?.trim());
  if (!passed && !overridden) {
    add(
      'gate',
      'E_GATE',
      validation === null
        ? `the model has no recorded validation accuracy, so it cannot pass the ${pct(threshold)} gate; give an override reason to register it anyway`
        : `validation accuracy ${pct(validation.accuracy)} is below the ${pct(threshold)} threshold; give an override reason to register it anyway`,
    );
  }
  return { problems, aliases, tags, gate: { accuracy: validation?.accuracy ?? null, threshold, passed, overridden } };
}

const existsMessage = (req: RegisterRequest) => `${req.name}@${req.version} is already registered; versions are immutable, so register ${req.name} under a new version`;

/** reviewRegistration plus what the database knows: whether NAME@VERSION is taken. */
export async function reviewRegistrationIn(db: StudioDB, req: RegisterRequest, source: ReviewSource): Promise<RegistrationReview> {
  const review = reviewRegistration(req, source);
  // Only a well-formed NAME@VERSION can be taken; a malformed one already has its problem.
  const wellFormed = !review.problems.some((p) => p.field === 'name' || p.field === 'version');
  if (wellFormed && (await db.get('models', `${req.name}@${req.version}`))) review.problems.push({ field: 'version', code: 'E_EXISTS', message: existsMessage(req) });
  return review;
}

/**
 * Registers a model version. Refuses (RegistryError, nothing written) a bad name, version, alias or tag, an existing
 * NAME@VERSION, a run that is not completed, and a model under the accuracy threshold without an override reason.
 * Everything is written in one transaction: on a full disk (QuotaExceededError) the registry is as it was.
 */
export async function registerModel(db: StudioDB, source: RegisterSource, req: RegisterRequest, opts: RegisterOptions = {}): Promise<ModelVersion> {
  const fail = (code: RegistryErrorCode, message: string): never => {
    throw new RegistryError(code, message);
  };
  const review = reviewRegistration(req, source);
  const [first] = review.problems;
  if (first) fail(first.code, first.message);
  const { aliases, tags } = review;
  const { threshold, passed } = review.gate;
  const reason = req.overrideReason?.trim() ?? '';
  const { run, metadata } = source;
  const validation = validationOf(source);

  const id = `${req.name}@${req.version}`;
  const files = Object.entries(source.files).map(([path, bytes]) => ({ path, byteLength: bytes.byteLength }));
  const byteLength = files.reduce((n, f) => n + f.byteLength, 0);
  if (opts.estimate) {
    const problem = checkQuota(byteLength, await opts.estimate());
    if (problem) fail('E_QUOTA', `cannot register ${id}: ${problem}`);
  }

  const createdAt = new Date().toISOString();
  const record: ModelVersion = {
    id,
    name: req.name,
    version: req.version,
    description: req.description?.trim() ?? '',
    tags,
    aliases,
    createdAt,
    runId: run?.runId ?? metadata.runId ?? null,
    epoch: run?.best?.epoch ?? null,
    modelId: metadata.modelId,
    strategy: metadata.strategy,
    labels: metadata.labels,
    inputSize: metadata.inputSize,
    channels: metadata.channels,
    validation: validation && { ...validation, ci95: wilsonInterval(Math.round(validation.accuracy * validation.n), validation.n) },
    ...(metadata.operatingPoint ? { operatingPoint: metadata.operatingPoint } : {}),
    gate: { threshold, passed, override: passed ? null : { reason, at: createdAt } },
    files,
    byteLength,
    card: '',
  };
  record.card = modelCard({ version: record, metadata, run, evaluation: source.evaluation, verdict: source.verdict });

  const tx = db.transaction(['models', 'modelFiles'], 'readwrite');
  try {
    await commitOrAbort(tx, async () => {
      const models = tx.objectStore('models');
      if (await models.get(id)) fail('E_EXISTS', existsMessage(req));
      // An alias names one version per model: take it from whichever version held it.
      for (const other of await models.index('name').getAll(req.name)) {
        const kept = other.aliases.filter((a) => !aliases.includes(a));
        if (kept.length !== other.aliases.length) await models.put({ ...other, aliases: kept });
      }
      const store = tx.objectStore('modelFiles');
      for (const [path, bytes] of Object.entries(source.files)) {
        await store.put({ versionId: id, path, data: bytes.slice().buffer });
      }
      await models.put(record);
    });
  } catch (err) {
    if (isQuotaError(err)) fail('E_QUOTA', `the browser's storage for this site is full, so ${id} was not registered; nothing was changed. Free space by deleting old runs or model versions`);
    throw err;
  }
  return record;
}

function sortVersions(list: ModelVersion[]): ModelVersion[] {
  return list.sort((a, b) => a.name.localeCompare(b.name) || compareSemver(parseSemver(b.version)!, parseSemver(a.version)!));
}

/** Every version, by name, newest version first. */
export async function listModels(db: StudioDB): Promise<ModelVersion[]> {
  return sortVersions(await db.getAll('models'));
}

/**
 * NAME@VERSION, NAME@ALIAS, or NAME alone for its highest version (pre-releases count only when nothing else is
 * there).
 */
export async function resolveModel(db: StudioDB, ref: string): Promise<ModelVersion> {
  const at = ref.lastIndexOf('@');
  const name = at < 0 ? ref : ref.slice(0, at);
  const tag = at < 0 ? null : ref.slice(at + 1);
  const nameIssue = nameProblem(name);
  if (nameIssue) throw new RegistryError('E_NAME', nameIssue);
  const versions = sortVersions(await db.getAllFromIndex('models', 'name', name));
  if (versions.length === 0) throw new RegistryError('E_NOT_FOUND', `no model named "${name}" is registered`);
  if (tag === null) return versions.find((v) => parseSemver(v.version)!.prerelease.length === 0) ?? versions[0];
  const found = parseSemver(tag) ? versions.find((v) => v.version === tag) : versions.find((v) => v.aliases.includes(tag));
  if (!found) {
    const known = parseSemver(tag) ? versions.map((v) => v.version) : [...new Set(versions.flatMap((v) => v.aliases))];
    throw new RegistryError('E_NOT_FOUND', `${ref} is not registered (${name} has ${parseSemver(tag) ? 'versions' : 'aliases'}: ${known.join(', ') || 'none'})`);
  }
  return found;
}

/** Points `alias` at the version `ref` resolves to, taking it from the version of the same name that held it. */
export async function setAlias(db: StudioDB, ref: string, alias: string): Promise<ModelVersion> {
  const issue = aliasProblem(alias);
  if (issue) throw new RegistryError('E_ALIAS', issue);
  const target = await resolveModel(db, ref);
  const tx = db.transaction('models', 'readwrite');
  let updated = target;
  for (const v of await tx.store.index('name').getAll(target.name)) {
    const aliases = v.id === target.id ? [...new Set([...v.aliases, alias])] : v.aliases.filter((a) => a !== alias);
    if (aliases.length !== v.aliases.length || v.id === target.id) await tx.store.put({ ...v, aliases });
    if (v.id === target.id) updated = { ...v, aliases };
  }
  await tx.done;
  return updated;
}

export async function removeAlias(db: StudioDB, name: string, alias: string): Promise<void> {
  const held = await resolveModel(db, `${name}@${alias}`);
  await db.put('models', { ...held, aliases: held.aliases.filter((a) => a !== alias) });
}

/** The version's files as exportTfjs wrote them. */
export async function loadModelFiles(db: StudioDB, id: string): Promise<ModelFiles> {
  const tx = db.transaction(['models', 'modelFiles']);
  const record = await tx.objectStore('models').get(id);
  const stored = await tx.objectStore('modelFiles').getAll(IDBKeyRange.bound([id, ''], [id, '\uffff']));
  await tx.done;
  if (!record) throw new RegistryError('E_NOT_FOUND', `${id} is not registered`);
  const files: ModelFiles = Object.fromEntries(stored.map((f) => [f.path, new Uint8Array(f.data)]));
  const missing = record.files.filter((f) => files[f.path]?.byteLength !== f.byteLength).map((f) => f.path);
  if (missing.length > 0) throw new Error(`${id} is damaged in storage: ${missing.join(', ')} missing or truncated`);
  return files;
}

export async function deleteModelVersion(db: StudioDB, id: string): Promise<void> {
  const tx = db.transaction(['models', 'modelFiles'], 'readwrite');
  await tx.objectStore('modelFiles').delete(IDBKeyRange.bound([id, ''], [id, '\uffff']));
  await tx.objectStore('models').delete(id);
  await tx.done;
}
