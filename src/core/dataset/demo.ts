/**
 * A synthetic, MRI-like demo dataset, so the studio does something useful before the user has any files.
 *
 * Each image is an axial "slice" of a brain phantom: an elliptical head with a bright skull ring, soft-tissue
 * texture, two dark ventricles and Gaussian noise, with one lesion whose shape, position and texture depend on the
 * class. Head pose, size, contrast, noise level and lesion contrast vary per image, and some lesions are faint, so
 * the task is learnable but not trivial. Everything derives from (seed, class, index): the same seed always gives
 * the same pixels, whatever order images are generated in.
 */
import { deriveSeed, gaussian, mulberry32 } from '../random';

export const DEMO_CLASSES = ['glioma', 'meningioma', 'pituitary'] as const;

export interface DemoDataset {
  classes: string[];
  imageSize: number;
  channels: 3;
  /** uint8 RGB, image-major: images[(i * size * size + p) * 3 + c]. */
  images: Uint8Array;
  labels: Int32Array;
  /** Stable ids ("glioma/0007"), used as split keys. */
  keys: string[];
}

interface Lesion {
  cx: number;
  cy: number;
  r: number;
  /** Angular harmonics that make the boundary irregular (zero for a round lesion). */
  wobble: { k: number; amp: number; phase: number }[];
  /** Intensity change at the rim and in the core, in grey levels. */
  rim: number;
  core: number;
}

/**
 * `varied`: lesions from faint to obvious (the studio's demo: learnable, not trivial). `clear`: every lesion obvious,
 * gliomas' cores dark, and less noise, so the small CNN separates the classes within a minute (the conference demo).
 */
export type DemoLesions = 'varied' | 'clear';

function lesionFor(cls: number, rand: () => number, lesions: DemoLesions): Lesion {
  const contrast = lesions === 'clear' ? 90 + rand() * 30 : 40 + rand() * 60; // faint to obvious
  if (cls === 0) {
    // glioma-like: irregular intra-axial mass in a hemisphere, ring-enhancing with a darker (necrotic) core
    const angle = rand() * 2 * Math.PI;
    const dist = 0.15 + rand() * 0.35;
    const wobble = [2, 3, 5].map((k) => ({ k, amp: 0.15 + rand() * 0.2, phase: rand() * 2 * Math.PI }));
    // A clear one's necrotic core is as dark as its rim is bright: no small CNN mistakes it for the bright masses.
    return { cx: Math.cos(angle) * dist, cy: Math.sin(angle) * dist, r: 0.14 + rand() * 0.12, wobble, rim: contrast, core: -contrast * (lesions === 'clear' ? 1 : 0.5) };
  }
  if (cls === 1) {
    // meningioma-like: round, homogeneous, extra-axial mass pressed against the skull
    const angle = rand() * 2 * Math.PI;
    const r = 0.12 + rand() * 0.1;
    const dist = 0.78 - r * 0.6;
    return { cx: Math.cos(angle) * dist, cy: Math.sin(angle) * dist * 1.08, r, wobble: [], rim: contrast, core: contrast };
  }
  // pituitary-like: small bright round mass on the midline, low in the slice (sella turcica)
  return { cx: (rand() - 0.5) * 0.16, cy: 0.3 + rand() * 0.2, r: 0.08 + rand() * 0.06, wobble: [], rim: contrast, core: contrast * 0.9 };
}

/** Draws one phantom slice into `out` (size × size grey levels, 0..255 floats before clamping). */
function renderSlice(cls: number, size: number, rand: () => number, out: Float32Array, lesions: DemoLesions): void {
  const headRx = 0.78 + rand() * 0.1;
  const headRy = 0.86 + rand() * 0.1;
  const tilt = (rand() - 0.5) * 0.4;
  const ox = (rand() - 0.5) * 0.1;
  const oy = (rand() - 0.5) * 0.1;
  const tissue = 95 + rand() * 40;
  const skull = 180 + rand() * 50;
  const noise = lesions === 'clear' ? 3 + rand() * 3 : 4 + rand() * 8;
  // low-frequency texture: a few random plane waves
  const waves = Array.from({ length: 4 }, () => ({ fx: (rand() - 0.5) * 14, fy: (rand() - 0.5) * 14, ph: rand() * 6.283, a: 2 + rand() * 4 }));
  const lesion = lesionFor(cls, rand, lesions);
  const ventricleGap = 0.1 + rand() * 0.05;
  const cos = Math.cos(tilt);
  const sin = Math.sin(tilt);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      // pixel centre in [-1, 1], then into the head's own rotated frame
      const x0 = ((px + 0.5) / size) * 2 - 1 - ox;
      const y0 = ((py + 0.5) / size) * 2 - 1 - oy;
      const x = cos * x0 + sin * y0;
      const y = -sin * x0 + cos * y0;
      const rho = Math.hypot(x / headRx, y / headRy);
      let v = 0;
      if (rho < 1) {
        if (rho > 0.9) v = skull;
        else if (rho > 0.86) v = 30; // CSF gap between skull and brain
        else {
          v = tissue;
          for (const w of waves) v += w.a * Math.sin(w.fx * x + w.fy * y + w.ph);
          // ventricles: two dark crescents either side of the midline
          for (const side of [-1, 1]) {
            const vx = (x - side * ventricleGap) / 0.09;
            const vy = (y + 0.05) / 0.22;
            if (vx * vx + vy * vy < 1) v = 35;
          }
          const dx = x - lesion.cx;
          const dy = y - lesion.cy;
          const d = Math.hypot(dx, dy);
          const theta = Math.atan2(dy, dx);
          let edge = lesion.r;
          for (const w of lesion.wobble) edge *= 1 + w.amp * Math.sin(w.k * theta + w.phase) * 0.5;
          if (d < edge) v += d > edge * 0.65 ? lesion.rim : lesion.core;
        }
      }
      out[py * size + px] = v + gaussian(rand) * noise;
    }
  }
}

export interface DemoOptions {
  seed: number;
  imageSize: number;
  perClass: number;
  /** `varied` by default. */
  lesions?: DemoLesions;
}

export function demoImage(cls: number, index: number, seed: number, size: number, lesions: DemoLesions = 'varied'): Uint8Array {
  const grey = new Float32Array(size * size);
  renderSlice(cls, size, mulberry32(deriveSeed(seed, 'demo', cls, index)), grey, lesions);
  const rgb = new Uint8Array(size * size * 3);
  for (let p = 0; p < grey.length; p++) {
    const g = Math.max(0, Math.min(255, Math.round(grey[p])));
    rgb[p * 3] = rgb[p * 3 + 1] = rgb[p * 3 + 2] = g;
  }
  return rgb;
}

export function generateDemoDataset({ seed, imageSize, perClass, lesions = 'varied' }: DemoOptions): DemoDataset {
  if (!Number.isInteger(imageSize) || imageSize < 8 || imageSize > 512) throw new RangeError(`demo image size must be an integer in 8..512 (got ${imageSize})`);
  if (!Number.isInteger(perClass) || perClass < 3) throw new RangeError(`demo dataset needs at least 3 images per class (got ${perClass})`);
  const n = DEMO_CLASSES.length * perClass;
  const pixels = imageSize * imageSize * 3;
  const images = new Uint8Array(n * pixels);
  const labels = new Int32Array(n);
  const keys: string[] = [];
  let i = 0;
  for (let cls = 0; cls < DEMO_CLASSES.length; cls++) {
    for (let k = 0; k < perClass; k++, i++) {
      images.set(demoImage(cls, k, seed, imageSize, lesions), i * pixels);
      labels[i] = cls;
      keys.push(`${DEMO_CLASSES[cls]}/${String(k).padStart(4, '0')}`);
    }
  }
  return { classes: [...DEMO_CLASSES], imageSize, channels: 3, images, labels, keys };
}
