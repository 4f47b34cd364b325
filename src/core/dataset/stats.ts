/** Per-channel mean and standard deviation of uint8 images, over a subset (the training split only). */
export interface ChannelStats {
  /** In the 0..1 range, per channel. */
  mean: number[];
  std: number[];
}

export function channelStats(images: Uint8Array, pixelsPerImage: number, channels: number, indices: readonly number[]): ChannelStats {
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  const stride = pixelsPerImage * channels;
  for (const i of indices) {
    const base = i * stride;
    for (let p = 0; p < stride; p += channels) {
      for (let c = 0; c < channels; c++) {
        const v = images[base + p + c] / 255;
        sum[c] += v;
        sumSq[c] += v * v;
      }
    }
  }
  const n = indices.length * pixelsPerImage;
  if (n === 0) throw new RangeError('cannot compute normalisation statistics over an empty split');
  const mean = Array.from(sum, (s) => s / n);
  // Guard against a constant channel: a zero std would turn every normalised pixel into NaN.
  const std = Array.from(sumSq, (s, c) => Math.max(Math.sqrt(Math.max(s / n - mean[c] * mean[c], 0)), 1e-6));
  return { mean, std };
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
