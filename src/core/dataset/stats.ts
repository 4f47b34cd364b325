/** Per-channel mean and standard deviation of uint8 images, over a subset (the training split only). */
export interface ChannelStats {
  /** In the 0..1 range, per channel. */
  mean: number[];
  std: number[];
}

/**
 * Per-channel sums of one uint8 image's values and squared values, as integers (exact in a float64 up to 2^53, far
 * above any image), so that statistics assembled from them do not depend on the order images are added in.
 * Layout: [sum c0, sum c1, …, sumSq c0, sumSq c1, …].
 */
export function imageChannelSums(pixels: Uint8Array, channels: number, offset = 0, length = pixels.length - offset): Float64Array {
  const out = new Float64Array(2 * channels);
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    let sumSq = 0;
    for (let p = offset + c, end = offset + length; p < end; p += channels) {
      const v = pixels[p];
      sum += v;
      sumSq += v * v;
    }
    out[c] = sum;
    out[channels + c] = sumSq;
  }
  return out;
}

/** Mean and std (0..1 units) of the images whose per-image sums are given, over the listed indices. */
export function statsFromSums(sums: readonly Float64Array[], indices: readonly number[], pixelsPerImage: number, channels: number): ChannelStats {
  const n = indices.length * pixelsPerImage;
  if (n === 0) throw new RangeError('cannot compute normalisation statistics over an empty split');
  const total = new Float64Array(2 * channels);
  for (const i of indices) for (let k = 0; k < total.length; k++) total[k] += sums[i][k];
  const mean = Array.from({ length: channels }, (_, c) => total[c] / n / 255);
  // Guard against a constant channel: a zero std would turn every normalised pixel into NaN.
  const std = Array.from({ length: channels }, (_, c) => Math.max(Math.sqrt(Math.max(total[channels + c] / n / 65025 - mean[c] * mean[c], 0)), 1e-6));
  return { mean, std };
}

export function channelStats(images: Uint8Array, pixelsPerImage: number, channels: number, indices: readonly number[]): ChannelStats {
  const stride = pixelsPerImage * channels;
  const sums: Float64Array[] = [];
  for (const i of indices) sums[i] = imageChannelSums(images, channels, i * stride, stride);
  return statsFromSums(sums, indices, pixelsPerImage, channels);
}

/** ImageNet's per-channel statistics (RGB, 0..1), shown beside the dataset's own for comparison. */
export const IMAGENET_STATS: ChannelStats = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

export interface StatsCheck {
  /** True when every channel's mean and std differ by at most the tolerance. */
  ok: boolean;
  tolerance: number;
  channels: { meanDiff: number; stdDiff: number; ok: boolean }[];
}

/** Compares stored statistics with recomputed ones; differences are absolute, on the 0..1 scale. */
export function verifyStats(stored: ChannelStats, recomputed: ChannelStats, tolerance = 1e-4): StatsCheck {
  if (!(tolerance >= 0)) throw new RangeError(`tolerance must be a non-negative number (got ${tolerance})`);
  const n = stored.mean.length;
  if ([stored.std, recomputed.mean, recomputed.std].some((a) => a.length !== n)) {
    throw new RangeError(`cannot compare statistics over different channel counts (${n} and ${recomputed.mean.length})`);
  }
  const channels = stored.mean.map((_, c) => {
    const meanDiff = Math.abs(stored.mean[c] - recomputed.mean[c]);
    const stdDiff = Math.abs(stored.std[c] - recomputed.std[c]);
    return { meanDiff, stdDiff, ok: meanDiff <= tolerance && stdDiff <= tolerance };
  });
  return { ok: channels.every((c) => c.ok), tolerance, channels };
}
