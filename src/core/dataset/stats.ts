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
