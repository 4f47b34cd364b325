/**
 * What a medical validation records (thresholds, checks, verdict) and which classes count as tumour classes: on
 * their own, without the metrics, so that the evaluation record can hold a validation and the operating point can
 * tell tumour classes apart while `medical.ts` judges an evaluation's metrics.
 */

export interface MedicalThresholds {
  /** Every tumour class's sensitivity must reach this (0.85). */
  minSensitivity: number;
  minAccuracy: number;
  maxP95LatencyMs: number;
  /** The classes whose sensitivity is held to the threshold; by default every class not named like "no tumour". */
  tumourClasses?: string[];
}

export const DEFAULT_THRESHOLDS: MedicalThresholds = { minSensitivity: 0.85, minAccuracy: 0.85, maxP95LatencyMs: 100 };

/** "notumor", "no_tumour", "No Tumor", "normal", "healthy": the class of scans without a tumour. */
export function isNoTumourClass(name: string): boolean {
  return /^(no[\s_-]?tumou?rs?|normal|healthy|negative)$/i.test(name.trim());
}

export type Verdict = 'Excellent' | 'Good' | 'Needs improvement';

export interface MedicalCheck {
  name: string;
  value: number;
  threshold: number;
  /** 'min': value must be ≥ threshold; 'max': value must be < threshold. */
  kind: 'min' | 'max';
  passed: boolean;
}

export interface MedicalValidation {
  verdict: Verdict;
  /** Every check passed. */
  passed: boolean;
  thresholds: Required<MedicalThresholds>;
  checks: MedicalCheck[];
  recommendations: string[];
  /** Set when duplicate images cross from training or validation into an evaluated split: the figures are optimistic. */
  leakageWarning: string | null;
}
