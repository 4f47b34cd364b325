/**
 * Calibration: expected calibration error with a reliability diagram (Guo et al. 2017: equal-width bins of the
 * top-class confidence, bin b = (b/B, (b+1)/B]), temperature scaling, and confidence histograms of right and wrong
 * predictions. Probabilities and logits are row-major: `x[i * K + k]`.
 */

export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean top-class confidence and accuracy of the bin's examples (0 for an empty bin). */
  confidence: number;
  accuracy: number;
}

export interface Calibration {
  ece: number;
  bins: ReliabilityBin[];
}

export const ECE_BINS = 15;

/** The bin of a value in [0, 1] among `bins` equal-width bins, (lower, upper] with 0 in the first. */
export function binOf(value: number, bins: number): number {
  let b = Math.min(bins - 1, Math.max(0, Math.ceil(value * bins) - 1));
  // value * bins can round across an edge (0.2 * 15 = 3.0000000000000004): compare with the edges themselves.
  if (b > 0 && value <= b / bins) b--;
  else if (b < bins - 1 && value > (b + 1) / bins) b++;
  return b;
}

/** For each example, the predicted class and its probability. */
export function topClass(probs: ArrayLike<number>, numClasses: number): { predicted: Int32Array; confidence: Float64Array } {
  const n = probs.length / numClasses;
  if (!Number.isInteger(n)) throw new RangeError(`${probs.length} probabilities do not split into rows of ${numClasses}`);
  const predicted = new Int32Array(n);
  const confidence = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (probs[i * numClasses + k] > probs[i * numClasses + best]) best = k;
    predicted[i] = best;
    confidence[i] = probs[i * numClasses + best];
  }
  return { predicted, confidence };
}

export function calibration(labels: ArrayLike<number>, probs: ArrayLike<number>, numClasses: number, numBins = ECE_BINS): Calibration {
  const { predicted, confidence } = topClass(probs, numClasses);
  const n = predicted.length;
  if (labels.length !== n) throw new RangeError(`${labels.length} labels but ${n} predictions`);
  if (n === 0) throw new RangeError('there are no predictions to calibrate');
  const count = new Array<number>(numBins).fill(0);
  const conf = new Array<number>(numBins).fill(0);
  const correct = new Array<number>(numBins).fill(0);
  for (let i = 0; i < n; i++) {
    const b = binOf(confidence[i], numBins);
    count[b]++;
    conf[b] += confidence[i];
    if (predicted[i] === labels[i]) correct[b]++;
  }
  const bins = count.map((c, b) => ({ lower: b / numBins, upper: (b + 1) / numBins, count: c, confidence: c ? conf[b] / c : 0, accuracy: c ? correct[b] / c : 0 }));
  const ece = bins.reduce((a, bin) => a + (bin.count / n) * Math.abs(bin.accuracy - bin.confidence), 0);
  return { ece, bins };
}

/** Row-wise softmax of logits divided by a temperature, computed stably (max subtracted). */
export function softmax(logits: ArrayLike<number>, numClasses: number, temperature = 1): Float64Array {
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i += numClasses) {
    let max = -Infinity;
    for (let k = 0; k < numClasses; k++) max = Math.max(max, logits[i + k] / temperature);
    let sum = 0;
    for (let k = 0; k < numClasses; k++) sum += out[i + k] = Math.exp(logits[i + k] / temperature - max);
    for (let k = 0; k < numClasses; k++) out[i + k] /= sum;
  }
  return out;
}

/** Mean negative log-likelihood of the labels under softmax(logits / T). */
export function nll(labels: ArrayLike<number>, logits: ArrayLike<number>, numClasses: number, temperature = 1): number {
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = i * numClasses;
    let max = -Infinity;
    for (let k = 0; k < numClasses; k++) max = Math.max(max, logits[row + k] / temperature);
    let sum = 0;
    for (let k = 0; k < numClasses; k++) sum += Math.exp(logits[row + k] / temperature - max);
    total += max + Math.log(sum) - logits[row + labels[i]] / temperature;
  }
  return total / labels.length;
}

/** The range the temperature is searched in: wide enough for any trained network, and bounded for separable data. */
export const TEMPERATURE_RANGE: readonly [number, number] = [0.05, 20];

/**
 * The temperature T > 0 minimising the NLL of softmax(logits / T) (Guo et al.), by golden-section search over log T.
 * NLL is convex in 1/T, hence unimodal in log T, so the search finds the minimum; it is deterministic and needs no
 * step size. Separable data pushes T to the lower end of TEMPERATURE_RANGE.
 */
export function fitTemperature(labels: ArrayLike<number>, logits: ArrayLike<number>, numClasses: number): number {
  if (labels.length === 0) throw new RangeError('temperature scaling needs at least one validation example');
  if (logits.length !== labels.length * numClasses) throw new RangeError(`${logits.length} logits for ${labels.length} examples of ${numClasses} classes`);
  const f = (logT: number) => nll(labels, logits, numClasses, Math.exp(logT));
  const phi = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(TEMPERATURE_RANGE[0]);
  let b = Math.log(TEMPERATURE_RANGE[1]);
  let c = b - phi * (b - a);
  let d = a + phi * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > 1e-9) {
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - phi * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + phi * (b - a);
      fd = f(d);
    }
  }
  return Math.exp((a + b) / 2);
}

export interface ConfidenceHistogram {
  /** Bin edges: bin b is (edges[b], edges[b + 1]], the first one closed. */
  edges: number[];
  correct: number[];
  wrong: number[];
}

/** Counts of top-class confidence, apart for right and wrong predictions. */
export function confidenceHistogram(labels: ArrayLike<number>, probs: ArrayLike<number>, numClasses: number, numBins = 10): ConfidenceHistogram {
  const { predicted, confidence } = topClass(probs, numClasses);
  const correct = new Array<number>(numBins).fill(0);
  const wrong = new Array<number>(numBins).fill(0);
  for (let i = 0; i < predicted.length; i++) (predicted[i] === labels[i] ? correct : wrong)[binOf(confidence[i], numBins)]++;
  return { edges: Array.from({ length: numBins + 1 }, (_, b) => b / numBins), correct, wrong };
}
