/**
 * The convolution-gradient kernels TF.js 4.22's WASM backend lacks (Conv2DBackpropFilter and the two depthwise
 * backprops), and the one it has only as a plain loop (Conv2DBackpropInput), so that training from scratch,
 * fine-tuning and Grad-CAM can run on WASM, which computes a convolution many times faster than WebGL on a software
 * adapter. Each kernel is written as a few calls to the WASM backend's own fast kernels (XNNPACK matrix products,
 * convolutions and depthwise convolutions, pads), never as a JS loop over elements. Shapes these formulations do not
 * cover are refused by name (UnsupportedGradientError), never computed some slower way behind the caller's back.
 *
 * Importing this module registers the kernels (and the WASM backend's package, whose kernels some of them wrap); it
 * does not start the backend.
 */
import * as tf from '@tensorflow/tfjs';
// Training on WASM also needs gradients and reductions that avoid its slow kernels (see each).
import './batchnorm-gradient';
import './clip-gradient';
import './wasm-reductions';

export const WASM_GRADIENT_KERNELS = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'] as const;
/** Gradient kernels the WASM backend has as plain loops, which ours replace with calls into XNNPACK. */
export const WASM_REPLACED_KERNELS = ['Conv2DBackpropInput'] as const;
type KernelName = (typeof WASM_GRADIENT_KERNELS)[number] | (typeof WASM_REPLACED_KERNELS)[number];

/** A case one of our WASM gradient kernels does not compute, named with the kernel and the attribute at fault. */
export class UnsupportedGradientError extends Error {
  constructor(
    readonly kernel: KernelName,
    readonly detail: string,
  ) {
    super(`${kernel} on the WASM backend does not support ${detail}; train this model on another backend (WebGL, WebGPU or CPU)`);
    this.name = 'UnsupportedGradientError';
  }
}

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
interface ConvAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dilations?: [number, number] | number;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Above this many elements the im2col matrix of Conv2DBackpropFilter is built a few images at a time (256 MB of floats). */
const IM2COL_MAX_ELEMENTS = 64 * 1024 * 1024;

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs: unknown; backend: { incRef(dataId: tf.DataId): void } };

/**
 * A kernel's input as a tensor that ops can take. The wrapper holds its own reference to the data (as the backend's
 * Reshape does), so that disposing it at the end of the kernel's tidy leaves the caller's tensor intact.
 */
function asTensor<R extends tf.Rank>(info: tf.TensorInfo, backend: KernelArgs['backend']): tf.Tensor<R> {
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
}

function refuse(kernel: KernelName, attrs: ConvAttrs, inputs: tf.TensorInfo[]): void {
  if (attrs.dataFormat === 'NCHW') throw new UnsupportedGradientError(kernel, "dataFormat 'NCHW' (only NHWC)");
  for (const t of inputs) {
    if (t.dtype !== 'float32') throw new UnsupportedGradientError(kernel, `${t.dtype} tensors (only float32)`);
    if (t.shape.length !== 4) throw new UnsupportedGradientError(kernel, `rank-${t.shape.length} tensors (only rank 4, NHWC)`);
  }
}

/** Pads (or, for a negative amount, crops) H and W of an NHWC tensor. */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const padded = top > 0 || bottom > 0 || left > 0 || right > 0 ? tf.pad(x, [[0, 0], [Math.max(top, 0), Math.max(bottom, 0)], [Math.max(left, 0), Math.max(right, 0)], [0, 0]]) : x;
  if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0) return padded;
  const [b, h, w, c] = padded.shape;
  const t = Math.max(-top, 0);
  const l = Math.max(-left, 0);
  return tf.slice(padded, [0, t, l, 0], [b, h - t - Math.max(-bottom, 0), w - l - Math.max(-right, 0), c]);
}

/** A stride and a dilation together: the spread and depthwise formulations below cover one or the other. */
function refuseStridedDilation(kernel: KernelName, info: tf.backend_util.Conv2DInfo): void {
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  if ((sh > 1 || sw > 1) && (dh > 1 || dw > 1)) throw new UnsupportedGradientError(kernel, `strides ${sh}×${sw} together with dilations ${dh}×${dw}`);
}

/** A 1×1 filter at stride 1 without padding: its convolution is a matrix product over the pixels. */
function isPointwise(info: tf.backend_util.Conv2DInfo): boolean {
  const { top, bottom, left, right } = info.padInfo;
  return info.filterHeight === 1 && info.filterWidth === 1 && info.strideHeight === 1 && info.strideWidth === 1 && top === 0 && bottom === 0 && left === 0 && right === 0;
}

/**
 * The input gradient of a convolution is a stride-1 convolution, under the spatially flipped filter, of dy with
 * stride − 1 zeros inserted between its rows and columns, padded so that every input position sees each tap that read
 * it. This lays dy out so; the caller convolves it 'valid' with the forward pass's dilation.
 */
function spreadForInputGradient(dy: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, outHeight: oh, outWidth: ow, inHeight: h, inWidth: w } = info;
  const [b, , , c] = dy.shape;
  // [b, oh, 1, ow, 1, c] padded to [b, oh, sh, ow, sw, c]: each value followed by stride − 1 zeros. Those after the
  // last row and column stand for the same amount of padding below and to the right.
  const spread = sh > 1 || sw > 1 ? (tf.pad(dy.reshape([b, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]).reshape([b, oh * sh, ow * sw, c]) as tf.Tensor4D) : dy;
  const { top, left } = info.padInfo;
  const before = [(info.filterHeight - 1) * dh - top, (info.filterWidth - 1) * dw - left];
  const after = [h - 1 + top - (oh - 1) * sh - (sh - 1), w - 1 + left - (ow - 1) * sw - (sw - 1)];
  return padOrCrop(spread, before[0], after[0], before[1], after[1]);
}

/** The two filter gradients' common start: their inputs, the refusal of what they do not compute, the conv geometry. */
function filterGradientInputs(name: KernelName, args: KernelArgs, depthwise: boolean) {
  const attrs = args.attrs as ConvAttrs & { filterShape: [number, number, number, number] };
  const { x: xInfo, dy: dyInfo } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  refuse(name, attrs, [xInfo, dyInfo]);
  const { filterShape } = attrs;
  const info = tf.backend_util.computeConv2DInfo(xInfo.shape as [number, number, number, number], filterShape, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, depthwise);
  return { xInfo, dyInfo, filterShape, info };
}

/**
 * dW[kh, kw, ci, co] = Σ over images and output positions of x-window(kh, kw)[ci] · dy[co]: the im2col matrix
 * ([positions, ci·kh·kw]) transposed times dy, one matrix product. The im2col matrix is itself one depthwise
 * convolution of x under a one-hot filter per tap, with the forward pass's stride and padding (XNNPACK's kernel; 4D
 * slices per tap ran element by element and cost most of a MobileNet step). A pointwise filter needs no im2col.
 */
function conv2DBackpropFilter(args: KernelArgs): tf.Tensor {
  const { xInfo, dyInfo, filterShape, info } = filterGradientInputs('Conv2DBackpropFilter', args, false);
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) throw new UnsupportedGradientError('Conv2DBackpropFilter', `dilations ${info.dilationHeight}×${info.dilationWidth}`);
  const attrs = args.attrs as ConvAttrs;
  return tf.tidy(() => {
    const x = asTensor<tf.Rank.R4>(xInfo, args.backend);
    const dy = asTensor<tf.Rank.R4>(dyInfo, args.backend);
    const [kh, kw, ci, co] = filterShape;
    // XNNPACK's fast path is the untransposed product; transposing the (smaller) left operand first is cheaper than
    // the backend's generic transposed matmul.
    if (isPointwise(info)) return tf.matMul(x.reshape([-1, ci]).transpose(), dy.reshape([-1, co])).reshape(filterShape);
    const taps = kh * kw;
    const oneHot = tf.eye(taps).reshape([kh, kw, 1, taps]).tile([1, 1, ci, 1]) as tf.Tensor4D;
    const batch = x.shape[0];
    const chunk = Math.max(1, Math.floor(IM2COL_MAX_ELEMENTS / (info.outHeight * info.outWidth * taps * ci)));
    let sum: tf.Tensor2D | null = null;
    for (let b0 = 0; b0 < batch; b0 += chunk) {
      const n = Math.min(chunk, batch - b0);
      const part = tf.tidy(() => {
        const xs = n === batch ? x : tf.slice(x, [b0, 0, 0, 0], [n, -1, -1, -1]);
        const dys = (n === batch ? dy : tf.slice(dy, [b0, 0, 0, 0], [n, -1, -1, -1])).reshape([-1, co]);
        const cols = tf.depthwiseConv2d(xs, oneHot, [info.strideHeight, info.strideWidth], attrs.pad, 'NHWC', 1, attrs.dimRoundingMode).reshape([-1, ci * taps]);
        return tf.matMul(cols.transpose(), dys) as tf.Tensor2D;
      });
      if (sum === null) sum = part;
      else {
        const next: tf.Tensor2D = tf.add(sum, part);
        sum.dispose();
        part.dispose();
        sum = next;
      }
    }
    // Rows are (ci, tap); the filter is [kh, kw, ci, co].
    return (sum as tf.Tensor2D).reshape([ci, kh, kw, co]).transpose([1, 2, 0, 3]);
  });
}

/**
 * The WASM backend's own Conv2DBackpropInput is a plain loop. dx is a pointwise filter's transpose times dy, one
 * matrix product; otherwise a stride-1 convolution (XNNPACK's) of the spread dy under the flipped filter with its
 * input and output channels swapped.
 */
function conv2DBackpropInput(args: KernelArgs): tf.Tensor {
  const attrs = args.attrs as ConvAttrs & { inputShape: [number, number, number, number] };
  const { dy: dyInfo, filter: filterInfo } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  refuse('Conv2DBackpropInput', attrs, [dyInfo, filterInfo]);
  const filterShape = filterInfo.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filterShape, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode);
  refuseStridedDilation('Conv2DBackpropInput', info);
  return tf.tidy(() => {
    const dy = asTensor<tf.Rank.R4>(dyInfo, args.backend);
    const filter = asTensor<tf.Rank.R4>(filterInfo, args.backend);
    const [, , ci, co] = filterShape;
    if (isPointwise(info)) return tf.matMul(dy.reshape([-1, co]), filter.reshape([ci, co]).transpose()).reshape(attrs.inputShape);
    const flipped = tf.reverse(filter, [0, 1]).transpose([0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(spreadForInputGradient(dy, info), flipped, 1, 'valid', 'NHWC', [info.dilationHeight, info.dilationWidth]);
  });
}

/**
 * dW[kh, kw, c, m] = Σ over images and output positions of x[b, oh·sh + kh·dh, ow·sw + kw·dw, c] · dy[b, oh, ow, c·M + m]:
 * itself a depthwise convolution, of the input (images side by side as channels: [1, H, W, B·C]) under dy as the
 * filter ([outH, outW, B·C, M]), with the forward pass's stride as the dilation and its dilation as the stride. That
 * is one call to the backend's XNNPACK kernel (7× faster here than a product and a sum per tap); a matrix product by
 * ones then sums the images.
 */
function depthwiseBackpropFilter(args: KernelArgs): tf.Tensor {
  const { xInfo, dyInfo, filterShape, info } = filterGradientInputs('DepthwiseConv2dNativeBackpropFilter', args, true);
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, outHeight: oh, outWidth: ow } = info;
  refuseStridedDilation('DepthwiseConv2dNativeBackpropFilter', info);
  return tf.tidy(() => {
    const x = asTensor<tf.Rank.R4>(xInfo, args.backend);
    const dy = asTensor<tf.Rank.R4>(dyInfo, args.backend);
    const [kh, kw, c, m] = filterShape;
    const [b, h, w] = x.shape;
    const images = x.transpose([1, 2, 0, 3]).reshape([1, h, w, b * c]) as tf.Tensor4D;
    const filter = dy.reshape([b, oh, ow, c, m]).transpose([1, 2, 0, 3, 4]).reshape([oh, ow, b * c, m]) as tf.Tensor4D;
    const { top, left } = info.padInfo;
    // The input the windows read: from −top to the last tap's last output position.
    const padded = padOrCrop(images, top, (kh - 1) * dh + (oh - 1) * sh + 1 - h - top, left, (kw - 1) * dw + (ow - 1) * sw + 1 - w - left);
    const perImage = tf.depthwiseConv2d(padded, filter, [dh, dw], 'valid', 'NHWC', [sh, sw]).reshape([kh * kw, b, c * m]);
    return tf.matMul(tf.ones([1, 1, b]), perImage).reshape(filterShape);
  });
}

/**
 * dx = a stride-1 depthwise convolution (the backend's own kernel, with the forward pass's dilation) of the spread dy
 * (spreadForInputGradient) under the spatially flipped filter. A channel multiplier M > 1 convolves each of the C·M output channels with its own
 * filter and sums each input channel's M results.
 */
function depthwiseBackpropInput(args: KernelArgs): tf.Tensor {
  const attrs = args.attrs as ConvAttrs & { inputShape: [number, number, number, number] };
  const { dy: dyInfo, filter: filterInfo } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  refuse('DepthwiseConv2dNativeBackpropInput', attrs, [dyInfo, filterInfo]);
  const { inputShape } = attrs;
  const [kh, kw, c, m] = filterInfo.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(inputShape, [kh, kw, c, m], attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, true);
  refuseStridedDilation('DepthwiseConv2dNativeBackpropInput', info);
  const { dilationHeight: dh, dilationWidth: dw } = info;
  return tf.tidy(() => {
    const dy = asTensor<tf.Rank.R4>(dyInfo, args.backend);
    const filter = asTensor<tf.Rank.R4>(filterInfo, args.backend);
    const [b, h, w] = inputShape;
    const padded = spreadForInputGradient(dy, info);
    const flipped = tf.reverse(filter, [0, 1]).reshape([kh, kw, c * m, 1]) as tf.Tensor4D;
    const dx = tf.depthwiseConv2d(padded, flipped, 1, 'valid', 'NHWC', [dh, dw]);
    return m === 1 ? dx : dx.reshape([b, h, w, c, m]).sum(4);
  });
}

const KERNELS: Record<KernelName, (args: KernelArgs) => tf.Tensor> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
  Conv2DBackpropInput: conv2DBackpropInput,
};

for (const kernelName of WASM_GRADIENT_KERNELS) {
  // A later TF.js that ships its own kernel keeps it: ours exist only because 4.22 has none.
  if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: KERNELS[kernelName] as unknown as tf.KernelFunc });
}
for (const kernelName of WASM_REPLACED_KERNELS) {
  if (tf.getKernel(kernelName, 'wasm')) tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: KERNELS[kernelName] as unknown as tf.KernelFunc });
}
