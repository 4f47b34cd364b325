/**
 * ROC curves and their area with scikit-learn's semantics (`roc_curve(drop_intermediate=True)`, `auc`,
 * `roc_auc_score(multi_class='ovr', average='macro')`): one point per distinct score, so tied scores move the
 * curve diagonally; collinear points dropped; the first threshold is the top score + 1 (scikit-learn 1.2).
 * A curve needs both positives and negatives: where scikit-learn warns (NaN) or raises, these return null.
 */

export interface RocCurve {
  fpr: number[];
  tpr: number[];
  thresholds: number[];
}

/** The binary ROC curve of `scores` for `positive[i]`; null when every example is positive or every one negative. */
export function rocCurve(positive: ArrayLike<boolean>, scores: ArrayLike<number>): RocCurve | null {
  const n = scores.length;
  if (positive.length !== n) throw new RangeError(`${positive.length} labels but ${n} scores`);
  // Descending by score; ties need no order of their own because only the last index of a run of ties is kept.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const fps: number[] = [];
  const tps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  for (let j = 0; j < n; j++) {
    if (positive[order[j]]) tp++;
    if (j === n - 1 || scores[order[j + 1]] !== scores[order[j]]) {
      tps.push(tp);
      fps.push(j + 1 - tp);
      thresholds.push(scores[order[j]]);
    }
  }
  const P = tps.length ? tps[tps.length - 1] : 0;
  const N = fps.length ? fps[fps.length - 1] : 0;
  if (P === 0 || N === 0) return null;
  const keep = fps.map((_, i) => i === 0 || i === fps.length - 1 || fps[i + 1] - 2 * fps[i] + fps[i - 1] !== 0 || tps[i + 1] - 2 * tps[i] + tps[i - 1] !== 0);
  const pick = <T>(xs: T[]) => xs.filter((_, i) => keep[i]);
  const kept = { fps: pick(fps), tps: pick(tps), thresholds: pick(thresholds) };
  return {
    fpr: [0, ...kept.fps.map((v) => v / N)],
    tpr: [0, ...kept.tps.map((v) => v / P)],
    thresholds: [kept.thresholds[0] + 1, ...kept.thresholds],
  };
}

/** Trapezoidal area under a curve whose x never decreases (an ROC curve). */
export function auc(x: readonly number[], y: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return area;
}

export interface OneVsRestRoc {
  /** Per class: its curve against all the others, or null when the class has no examples (or nothing else does). */
  curves: (RocCurve | null)[];
  auc: (number | null)[];
  /** Mean AUC over the classes that have one; null when none has. */
  macroAuc: number | null;
}

/** One-vs-rest ROC for each class from row-major probabilities (`probs[i * K + k]`). */
export function rocOneVsRest(labels: ArrayLike<number>, probs: ArrayLike<number>, numClasses: number): OneVsRestRoc {
  const n = labels.length;
  if (probs.length !== n * numClasses) throw new RangeError(`${probs.length} probabilities for ${n} examples of ${numClasses} classes`);
  const curves = Array.from({ length: numClasses }, (_, k) => {
    const scores = Float64Array.from({ length: n }, (_, i) => probs[i * numClasses + k]);
    const positive = Array.from({ length: n }, (_, i) => labels[i] === k);
    return rocCurve(positive, scores);
  });
  const areas = curves.map((c) => (c ? auc(c.fpr, c.tpr) : null));
  const defined = areas.filter((a): a is number => a !== null);
  return { curves, auc: areas, macroAuc: defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : null };
}
