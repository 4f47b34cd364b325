/**
 * Sums and means over the leading axes on WASM. The backend's own Sum and Mean reduce only innermost axes, so a
 * reduction over [batch, H, W] of an NHWC tensor — every batch-norm statistic and gradient, every bias gradient —
 * first transposes the whole tensor: 51 ms for a [16, 112, 112, 48] activation, against 2.5 ms for the same means as
 * one XNNPACK average pooling of the tensor seen as [1, positions, 1, channels] (a product with a row of ones is no
 * better: the backend packs its right operand, transposed, on every call). Other reductions keep the backend's kernels.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

/**
 * XNNPACK's multi-pass average pooling keeps a row of channels on the WASM stack: over a window of 16 rows it wrote out
 * of bounds from 24,000 channels up (16,000 passed), so wider rows keep the backend's kernel, with a margin.
 */
const MAX_CHANNELS = 8192;

type ReductionArgs = { inputs: { x: tf.TensorInfo }; attrs: { axis: number | number[]; keepDims: boolean }; backend: { incRef(dataId: tf.DataId): void } };

/**
 * How many leading axes are reduced, when the reduction is over exactly the first k < rank axes of a float32 tensor,
 * over more than one row of at most MAX_CHANNELS values; else 0.
 */
function leadingAxes({ inputs: { x }, attrs }: ReductionArgs): number {
  if (x.dtype !== 'float32') return 0;
  const axes = tf.util.parseAxisParam(attrs.axis, x.shape).sort((a, b) => a - b);
  if (axes.length === 0 || axes.length >= x.shape.length || axes.some((a, k) => a !== k)) return 0;
  const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
  return rows > 1 && tf.util.sizeFromShape(x.shape.slice(axes.length)) <= MAX_CHANNELS ? axes.length : 0;
}

function leadingReduction(args: ReductionArgs, axes: number, mean: boolean): tf.Tensor {
  const { x } = args.inputs;
  const outer = tf.util.sizeFromShape(x.shape.slice(0, axes));
  const kept = x.shape.slice(axes);
  // As the gradient kernels do (wasm-gradients asTensor): the wrapper holds its own reference to the caller's data.
  args.backend.incRef(x.dataId);
  return tf.tidy(() => {
    const input = tf.engine().makeTensorFromTensorInfo(x).reshape([1, outer, 1, -1]) as tf.Tensor4D;
    const average = tf.avgPool(input, [outer, 1], 1, 'valid');
    return (mean ? average : tf.mul(average, outer)).reshape(args.attrs.keepDims ? [...x.shape.slice(0, axes).map(() => 1), ...kept] : kept);
  });
}

for (const [kernelName, mean] of [['Sum', false], ['Mean', true]] as const) {
  const own = tf.getKernel(kernelName, 'wasm');
  if (!own) throw new Error(`the WASM backend has no ${kernelName} kernel`);
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({
    ...own,
    kernelFunc: (args) => {
      const axes = leadingAxes(args as unknown as ReductionArgs);
      return axes === 0 ? own.kernelFunc(args) : leadingReduction(args as unknown as ReductionArgs, axes, mean);
    },
  });
}
