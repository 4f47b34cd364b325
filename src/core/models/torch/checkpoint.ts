/**
 * Reads PyTorch weights files into named float32 tensors, without running anything they contain:
 * - `.pth`/`.pt` as `torch.save` writes since PyTorch 1.6: a zip of `<name>/data.pkl` (the state_dict, whose tensors
 *   point at storages by key) and `<name>/data/<key>` (each storage's raw little-endian bytes);
 * - `.safetensors`: an 8-byte little-endian header length, a JSON header of {name: {dtype, shape, data_offsets}},
 *   then the raw bytes.
 */
import { unzipSync } from 'fflate';
import { PickleDict, unpickle, UnsafePickleError, type PickleGlobal } from './pickle';

export interface TorchTensor {
  shape: number[];
  /** Values as float32, row-major (C order); null for integer buffers (BatchNorm's num_batches_tracked, Swin's index). */
  data: Float32Array | null;
}

export type StateDict = Map<string, TorchTensor>;

export class CheckpointFormatError extends Error {
  override name = 'CheckpointFormatError';
}

/** Element types by torch storage class and by safetensors dtype: bytes per element and how to read them as floats. */
interface DType {
  bytes: number;
  float: ((bytes: Uint8Array, count: number) => Float32Array) | null;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function float32(bytes: Uint8Array, count: number): Float32Array {
  // A view when aligned (torch aligns its storages in the zip to 64 bytes); a copy otherwise.
  if (littleEndian && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

function float64(bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, true));
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function float16(bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: count }, (_, i) => halfToFloat(view.getUint16(2 * i, true)));
}

function bfloat16(bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bits = new Uint32Array(count);
  for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  return new Float32Array(bits.buffer);
}

const DTYPES: Record<string, DType> = {
  F32: { bytes: 4, float: float32 },
  F64: { bytes: 8, float: float64 },
  F16: { bytes: 2, float: float16 },
  BF16: { bytes: 2, float: bfloat16 },
  I64: { bytes: 8, float: null },
  I32: { bytes: 4, float: null },
  I16: { bytes: 2, float: null },
  I8: { bytes: 1, float: null },
  U8: { bytes: 1, float: null },
  BOOL: { bytes: 1, float: null },
};

const STORAGES: Record<string, string> = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

const isZip = (b: Uint8Array) => b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/** Reads a `.pth` (zip) or `.safetensors` file, told apart by their first bytes. */
export function readCheckpoint(bytes: Uint8Array): StateDict {
  if (isZip(bytes)) return readTorchZip(bytes);
  // The legacy format (before PyTorch 1.6) is a bare pickle starting with PROTO 2 and a magic number.
  if (bytes[0] === 0x80 && bytes[1] === 0x02) throw new CheckpointFormatError('this is a weights file in PyTorch’s legacy format (before 1.6); load it in PyTorch and save it again with torch.save(model.state_dict(), "weights.pth")');
  if (bytes.length >= 9 && bytes[8] === 0x7b) return readSafetensors(bytes);
  throw new CheckpointFormatError('this is neither a PyTorch .pth (zip) nor a .safetensors file');
}

/** Copies the elements a (possibly strided) view selects into a row-major array. */
function gather(values: Float32Array, offset: number, shape: number[], stride: number[]): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  const contiguous = shape.every((_, i) => shape[i] === 1 || stride[i] === shape.slice(i + 1).reduce((a, b) => a * b, 1));
  if (contiguous) return values.subarray(offset, offset + count);
  const out = new Float32Array(count);
  const index = new Array<number>(shape.length).fill(0);
  for (let n = 0; n < count; n++) {
    let at = offset;
    for (let d = 0; d < shape.length; d++) at += index[d] * stride[d];
    out[n] = values[at];
    for (let d = shape.length - 1; d >= 0 && ++index[d] === shape[d]; d--) index[d] = 0;
  }
  return out;
}

const isInts = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0);

export function readTorchZip(bytes: Uint8Array): StateDict {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (err) {
    throw new CheckpointFormatError(`the .pth file is not a readable zip (${(err as Error).message})`);
  }
  const pklName = Object.keys(files).find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pklName) throw new CheckpointFormatError('the .pth zip has no data.pkl: it was not written by torch.save');
  const root = pklName.slice(0, -'data.pkl'.length);

  // Storage classes appear as bare globals (never called): each stands for its element type.
  const storageTypes = new Map<PickleGlobal, string>(Object.entries(STORAGES).map(([name, dtype]) => [() => name, dtype]));
  const values = new Map<string, Float32Array | null>();
  const persistentLoad = (pid: unknown): Float32Array | null => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new UnsafePickleError('the pickle refers to an outside object that is not a tensor storage');
    const [, cls, key, , numel] = pid as [string, unknown, unknown, unknown, unknown];
    const dtype = storageTypes.get(cls as PickleGlobal);
    if (!dtype || typeof key !== 'string' || !Number.isInteger(numel)) throw new UnsafePickleError('a storage record is malformed');
    if (!values.has(key)) {
      const data = files[`${root}data/${key}`];
      if (!data) throw new CheckpointFormatError(`the .pth zip lacks storage data/${key}`);
      const type = DTYPES[dtype];
      if (data.length < (numel as number) * type.bytes) throw new CheckpointFormatError(`storage data/${key} holds ${data.length} bytes, fewer than its ${numel} elements need`);
      values.set(key, type.float ? type.float(data, numel as number) : null);
    }
    return values.get(key)!;
  };
  // Storages are Float32Array (float types) or null (integer buffers); the pickle cannot forge either.
  const isStorage = (v: unknown): v is Float32Array | null => v === null || v instanceof Float32Array;
  const rebuild = (storage: unknown, offset: unknown, size: unknown, stride: unknown): TorchTensor => {
    if (!isStorage(storage) || !Number.isInteger(offset) || !isInts(size) || !isInts(stride) || size.length !== stride.length) throw new UnsafePickleError('a tensor is rebuilt from malformed arguments');
    return { shape: [...size], data: storage ? gather(storage, offset as number, size, stride) : null };
  };
  const globals = new Map<string, PickleGlobal>([
    ['collections.OrderedDict', () => new PickleDict()],
    ['torch._utils._rebuild_tensor_v2', (storage, offset, size, stride) => rebuild(storage, offset, size, stride)],
    // nn.Parameter around a tensor (a state_dict saved from parameters() keeps the wrapper).
    ['torch._utils._rebuild_parameter', (tensor) => tensor],
    ...[...storageTypes.keys()].map((cls): [string, PickleGlobal] => [`torch.${cls()}`, cls]),
  ]);

  let obj: unknown;
  try {
    obj = unpickle(files[pklName], { globals, persistentLoad });
  } catch (err) {
    if (err instanceof UnsafePickleError) throw new CheckpointFormatError(`the .pth file was refused: ${err.message}`);
    throw err;
  }
  return asStateDict(obj);
}

/** A state_dict, or a checkpoint dict holding one under `state_dict` / `model` (common training-script layouts). */
function asStateDict(obj: unknown): StateDict {
  if (!(obj instanceof PickleDict)) throw new CheckpointFormatError('the .pth file holds no dict of tensors (save model.state_dict(), not the model)');
  const isTensor = (v: unknown): v is TorchTensor => typeof v === 'object' && v !== null && 'shape' in v && 'data' in v;
  for (const key of ['state_dict', 'model']) {
    const inner = obj.get(key);
    if (inner instanceof PickleDict && ![...obj.values()].every(isTensor)) return asStateDict(inner);
  }
  const out: StateDict = new Map();
  for (const [k, v] of obj) {
    if (typeof k !== 'string' || !isTensor(v)) throw new CheckpointFormatError(`the .pth file’s entry ${JSON.stringify(k)} is not a tensor`);
    out.set(k, v);
  }
  return out;
}

export function readSafetensors(bytes: Uint8Array): StateDict {
  if (bytes.length < 8) throw new CheckpointFormatError('the .safetensors file is shorter than its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.length) throw new CheckpointFormatError(`the .safetensors header claims ${headerLength} bytes; the file has ${bytes.length}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch (err) {
    throw new CheckpointFormatError(`the .safetensors header is not JSON (${(err as Error).message})`);
  }
  const body = bytes.subarray(8 + headerLength);
  const out: StateDict = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = (info ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const type = typeof dtype === 'string' ? DTYPES[dtype] : undefined;
    if (!type) throw new CheckpointFormatError(`tensor "${name}" has dtype ${JSON.stringify(dtype)}, which is not a number type`);
    if (!isInts(shape) || !isInts(offsets) || offsets.length !== 2) throw new CheckpointFormatError(`tensor "${name}" has a malformed shape or data_offsets`);
    const count = shape.reduce((a, b) => a * b, 1);
    const [begin, end] = offsets;
    if (end - begin !== count * type.bytes || end > body.length) throw new CheckpointFormatError(`tensor "${name}" claims bytes ${begin}–${end}, which do not hold its ${JSON.stringify(shape)} ${dtype} values`);
    out.set(name, { shape: [...shape], data: type.float ? type.float(body.subarray(begin, end), count) : null });
  }
  return out;
}
