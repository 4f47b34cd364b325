/** Confusion matrices: rows are the true class, columns the predicted one (scikit-learn's convention). */

export type ConfusionMatrix = number[][];

export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number): ConfusionMatrix {
  if (yTrue.length !== yPred.length) throw new RangeError(`${yTrue.length} true labels but ${yPred.length} predictions`);
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`the number of classes must be a positive whole number (got ${numClasses})`);
  const m: ConfusionMatrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i];
    const p = yPred[i];
    if (!(Number.isInteger(t) && t >= 0 && t < numClasses && Number.isInteger(p) && p >= 0 && p < numClasses)) {
      throw new RangeError(`label pair ${i} (${t}, ${p}) is outside 0..${numClasses - 1}`);
    }
    m[t][p] += 1;
  }
  return m;
}

/** Per-class recall (sensitivity): the diagonal over each row's total; 0, never NaN, for a class with no examples. */
export function perClassRecall(m: ConfusionMatrix): number[] {
  return m.map((row, k) => {
    const support = row.reduce((a, b) => a + b, 0);
    return support === 0 ? 0 : row[k] / support;
  });
}

/**
 * Each row divided by its total (scikit-learn's `confusion_matrix(normalize='true')`): cell [t][p] is the share of
 * class t's examples predicted as p. A row with no examples stays all 0, as scikit-learn's nan_to_num makes it.
 */
export function rowNormalize(m: ConfusionMatrix): number[][] {
  return m.map((row) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (total === 0 ? 0 : v / total));
  });
}
