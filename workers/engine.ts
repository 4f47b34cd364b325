/**
 * The engine behind the `Engine` interface: runs in a dedicated worker and owns every tensor and every image. A
 * facade: the dataset session (scan → decode → split) is DatasetSessions', training and evaluation the RunExecutor's,
 * the registry's work the RegistryService's; one lock (claim.ts) keeps apart the work that must not overlap, and
 * errors are mapped once, for every method (errors.ts).
 */
import type { ImageAnalyzer } from '../src/core/dataset/importer';
import { BUILTIN_ZOO, Zoo, type ZooEntry } from '../src/core/models/zoo';
import { getRun, openStudioDB, type StudioDB } from '../src/core/store/db';
import { storageUsage } from '../src/core/store/usage';
import { paritySample } from '../src/core/export/parity';
import type { BackboneImport, BackendInfo, BackendName, Engine, ZooModel, FolderInput, PredictImage, PredictOptions, PredictProgress, PredictResult, OnnxBackboneImport, OnnxBackboneRequest, WeightsFileImport, AugmentPreview, AugmentPreviewRequest } from '../src/engine/types';
import { configFromSettings, configTemplates, checkSettings, parseConfigText, readConfig, settingsFromConfig } from '../src/core/config';
import { importedBackbones } from '../src/core/store/backbones';
import { listMeasurements } from '../src/core/store/measurements';
import { auditCsv, predictionsCsv } from '../src/core/inference/predictions';
import { clearAudit, listAudit } from '../src/core/store/audit';
import { resourceRequests } from '../src/engine/network';
import { importBackboneFolder } from './backbone-import';
import { onBackend } from './backend';
import { BackendChoice } from './backend-choice';
import { zooEntry } from './checks';
import { Claims } from './claim';
import { DatasetSessions } from './datasets';
import { mapErrors } from './errors';
import { decodeImage } from './gradcam';
import { importOnnxBackbone } from './onnx-import';
import { Predictor } from './predict';
import { augmentPreviews } from './preview';
import { exportRecipe } from './recipe';
import { RegistryService } from './registry';
import { RunExecutor } from './run-executor';
import { RunRecords } from './run-records';
import { importTorchWeightsFile } from './torch-weights';
import { importWeightsFile } from './weights-file';


/** A zoo entry whose weights come as one file the user may pick ("Choose weights file…"): its types and official URL. */
function weightsFileOf(e: ZooEntry): ZooModel['weightsFile'] {
  if (e.source.kind === 'torchvision') return { extension: '.pth,.pt,.safetensors', url: e.source.url };
  if (e.source.kind === 'keras-h5') return { extension: '.h5', url: e.source.url };
  return undefined;
}

export class StudioEngine implements Engine {
  private db: Promise<StudioDB> | null = null;
  private readonly backends = new BackendChoice();
  /** The one lock: which work may overlap which (see claim.ts). */
  private readonly claims = new Claims();
  /** The dataset session: scan, decode, split (see datasets.ts). */
  private readonly datasets: DatasetSessions;

  /** The built-in models and this profile's imported backbones: read by database(), replaced by importOnnxBackbone. */
  private modelZoo: Zoo = BUILTIN_ZOO;

  private readonly registry = new RegistryService(
    () => this.database(),
    (size, channels, count, runId) => this.sampleImages(size, channels, count, runId),
    () => this.modelZoo,
  );

  private readonly predictor: Predictor;
  private readonly executor: RunExecutor;
  private readonly records: RunRecords;

  /**
   * @param analyze per-file import work (decode, hashes, sums); the worker passes a pool of browser decoders.
   * Returns the engine with its errors mapped (errors.ts), for the worker and for Node callers alike.
   */
  constructor(private readonly analyze?: ImageAnalyzer) {
    this.datasets = new DatasetSessions({ database: () => this.database(), backend: () => this.backend(), claims: this.claims, zoo: () => this.loadedZoo() }, analyze);
    this.predictor = new Predictor(() => this.database(), analyze);
    this.executor = new RunExecutor({
      backends: this.backends,
      claims: this.claims,
      database: () => this.database(),
      prepare: (cfg) => this.datasets.prepare(cfg),
      importedWhole: (fp) => this.datasets.importedWhole(fp),
      inputShape: (cfg) => this.datasets.inputShape(cfg),
      decode: (file, size, channels) => decodeImage(this.analyze, file, size, channels),
      registry: this.registry,
      zoo: () => this.loadedZoo(),
    });
    this.records = new RunRecords({ database: () => this.database(), backend: () => this.backend(), claims: this.claims, locks: this.executor.locks, zoo: () => this.loadedZoo() });
    return mapErrors(this);
  }

  /** The studio DB, once open, with its imported ONNX backbones in the engine's zoo. */
  private database(): Promise<StudioDB> {
    this.db ??= openStudioDB().then(async (db) => {
      this.modelZoo = new Zoo(await importedBackbones(db));
      return db;
    });
    return this.db;
  }

  /** The zoo, once the database's imported backbones are in it. */
  private async loadedZoo(): Promise<Zoo> {
    await this.database();
    return this.modelZoo;
  }

  async init(backend: BackendName | 'auto'): Promise<BackendInfo> {
    this.claims.check('init');
    return this.backends.choose(backend);
  }

  backend(): Promise<BackendInfo> {
    return this.backends.current();
  }

  // The dataset session (datasets.ts): scan → decode → split.
  readonly scanFolder: Engine['scanFolder'] = (input) => this.datasets.scanFolder(input);
  readonly recommendRecipe: Engine['recommendRecipe'] = () => this.datasets.recommendRecipe();
  readonly importDataset: Engine['importDataset'] = (opts, onEvent) => this.datasets.importDataset(opts, onEvent);
  readonly decode: Engine['decode'] = (folderId, opts, onEvent) => this.datasets.decode(folderId, opts, onEvent);
  readonly split: Engine['split'] = (datasetId, opts) => this.datasets.split(datasetId, opts);
  readonly cancelImport: Engine['cancelImport'] = () => this.datasets.cancelImport();
  readonly thumbnails: Engine['thumbnails'] = (keys, size) => this.datasets.thumbnails(keys, size);
  readonly exportManifest: Engine['exportManifest'] = (format) => this.datasets.exportManifest(format);
  readonly verifyStats: Engine['verifyStats'] = () => this.datasets.verifyStats();
  readonly recomputeStats: Engine['recomputeStats'] = () => this.datasets.recomputeStats();
  readonly rememberedFolder: Engine['rememberedFolder'] = () => this.datasets.rememberedFolder();
  readonly exportRecipe: Engine['exportRecipe'] = async (runId, opts) => exportRecipe(await this.database(), await this.loadedZoo(), runId, opts, this.datasets.held());

  // Training and evaluation (run-executor.ts).
  readonly train: Engine['train'] = (cfg, onEvent) => this.executor.train(cfg, onEvent);
  readonly resume: Engine['resume'] = (runId, onEvent) => this.executor.resume(runId, onEvent);
  readonly cancel: Engine['cancel'] = (runId) => this.executor.cancel(runId);
  readonly pause: Engine['pause'] = (runId) => this.executor.pause(runId);
  readonly unpause: Engine['unpause'] = (runId) => this.executor.unpause(runId);
  readonly evaluate: Engine['evaluate'] = (req, onEvent) => this.executor.evaluate(req, onEvent);
  readonly evaluateModel: Engine['evaluateModel'] = (req, onEvent) => this.executor.evaluateModel(req, onEvent);
  readonly evaluation: Engine['evaluation'] = (runId) => this.executor.evaluation(runId);
  readonly evaluationThumbnails: Engine['evaluationThumbnails'] = (runId, keys, size) => this.executor.evaluationThumbnails(runId, keys, size);
  readonly evaluationReport: Engine['evaluationReport'] = (runId, opts) => this.executor.evaluationReport(runId, opts);
  readonly gradcam: Engine['gradcam'] = (req) => this.executor.gradcam(req);
  readonly crossValidate: Engine['crossValidate'] = (req, onEvent) => this.executor.crossValidate(req, onEvent);
  readonly probeSpeed: Engine['probeSpeed'] = (cfg) => this.executor.probeSpeed(cfg);
  readonly measureBackends: Engine['measureBackends'] = (target, onProgress) => this.executor.measureBackends(target, onProgress);
  readonly estimateMemory: Engine['estimateMemory'] = (cfg) => this.executor.estimateMemory(cfg);

  async zoo(): Promise<ZooModel[]> {
    return (await this.loadedZoo()).entries().map((e) => ({ id: e.id, name: e.name, family: e.family, inputSize: e.inputSize, params: e.params, pretrained: e.source.kind !== 'builtin', defaults: e.defaults, ...(weightsFileOf(e) ? { weightsFile: weightsFileOf(e) } : {}) }));
  }

  // The stored runs (run-records.ts).
  readonly runs: Engine['runs'] = () => this.records.list();
  readonly deleteRun: Engine['deleteRun'] = (runId) => this.records.delete(runId);
  readonly exportRun: Engine['exportRun'] = (runId) => this.records.export(runId);
  readonly importRun: Engine['importRun'] = (bytes, opts) => this.records.import(bytes, opts);
  readonly importClusterRun: Engine['importClusterRun'] = (sourceRunId, files) => this.records.importCluster(sourceRunId, files);
  readonly compareRuns: Engine['compareRuns'] = (runIds) => this.records.compare(runIds);

  // The model registry (registry.ts).
  readonly register: Engine['register'] = (req) => this.registry.register(req);
  readonly models: Engine['models'] = () => this.registry.models();
  readonly exportModel: Engine['exportModel'] = (ref, format, opts) => this.registry.exportModel(ref, format, opts);
  readonly importModel: Engine['importModel'] = (files, req) => this.registry.importModel(files, req);
  readonly reviewRegistration: Engine['reviewRegistration'] = (req) => this.registry.reviewRegistration(req);
  readonly setAlias: Engine['setAlias'] = (ref, alias) => this.registry.setAlias(ref, alias);
  readonly removeAlias: Engine['removeAlias'] = (name, alias) => this.registry.removeAlias(name, alias);
  readonly deleteModel: Engine['deleteModel'] = (id) => this.registry.deleteModel(id);

  async predict(ref: string, images: PredictImage[], opts: PredictOptions = {}, onProgress?: (p: PredictProgress) => void): Promise<PredictResult> {
    // Training switches backends under its own tensors; predicting in between would run on whichever is current.
    const claim = this.claims.claim('predict', 'predict');
    try {
      await claim.ready;
      const backend = await this.executor.forwardInfo();
      return await onBackend(backend.name, () => this.predictor.predict(ref, images, opts, backend.name, onProgress));
    } finally {
      claim.release();
    }
  }

  // Stored records and files, each one call into the core.
  readonly auditLog: Engine['auditLog'] = async () => listAudit(await this.database());
  readonly clearAuditLog: Engine['clearAuditLog'] = async () => clearAudit(await this.database());
  readonly auditLogCsv: Engine['auditLogCsv'] = async () => auditCsv(await this.auditLog());
  readonly predictionsCsv: Engine['predictionsCsv'] = async (result) => predictionsCsv(result);
  readonly storageUsage: Engine['storageUsage'] = async () => storageUsage(await this.database());
  readonly backendMeasurements: Engine['backendMeasurements'] = async () => listMeasurements(await this.database());
  readonly configTemplates: Engine['configTemplates'] = async () => configTemplates(await this.loadedZoo());
  readonly readConfig: Engine['readConfig'] = async (file) => {
    const zoo = await this.loadedZoo();
    return settingsFromConfig(typeof file === 'string' ? parseConfigText(file, zoo) : readConfig(file, zoo), zoo);
  };
  readonly writeConfig: Engine['writeConfig'] = async (settings) => configFromSettings(checkSettings(settings, await this.loadedZoo()));
  readonly network: Engine['network'] = async () => resourceRequests(performance, 'engine');

  /**
   * Held-out images for an export's parity check, when their size fits the model: the imported dataset's, else (a
   * demo run's version) the run's own demo images, regenerated from its seed.
   */
  private async sampleImages(size: number, channels: number, count: number, runId: string | null): Promise<{ pixels: Uint8Array; count: number } | null> {
    const stride = size * size * channels;
    const data = this.datasets.held();
    if (data && data.imageSize === size && data.channels === channels) return paritySample(data.images, stride, data.split, count);
    const run = runId ? await getRun(await this.database(), runId) : undefined;
    if (run?.config.dataset.kind !== 'demo') return null;
    const demo = await this.datasets.prepare(run.config);
    if (demo.data.imageSize !== size || demo.data.channels !== channels) return null;
    return paritySample(demo.data.images, stride, demo.split, count);
  }

  async augmentPreview(req: AugmentPreviewRequest): Promise<AugmentPreview[]> {
    const { data } = this.datasets.imported();
    await this.backend();
    return augmentPreviews(data, req);
  }

  async importBackbone(id: string, input: FolderInput): Promise<BackboneImport> {
    await this.backend();
    return importBackboneFolder(zooEntry(await this.loadedZoo(), id), input, await this.database());
  }

  async importWeightsFile(id: string, file: File): Promise<WeightsFileImport> {
    // Building the network to check the file runs on the active backend, which a run switches.
    this.claims.check('weights');
    await this.backend();
    const entry = zooEntry(await this.loadedZoo(), id);
    const db = await this.database();
    if (entry.source.kind !== 'torchvision') return importWeightsFile(entry, file, db);
    const b = await importTorchWeightsFile(entry, { kind: 'files', name: file.name, files: [file], paths: [file.name] }, db);
    return { id: b.id, name: b.name, file: b.folder, bytes: b.bytes, weights: b.params };
  }

  async importOnnxBackbone(req: OnnxBackboneRequest): Promise<OnnxBackboneImport> {
    // Its parity check runs on the active backend, which a run switches between its forward and training work.
    this.claims.check('onnx');
    await this.backend();
    const { entry, report } = await importOnnxBackbone(req, await this.database());
    this.modelZoo = this.modelZoo.withImported(entry);
    return report;
  }
}
