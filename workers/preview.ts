/** Small RGBA previews of the imported images, plain and augmented, for the UI (which never holds every image). */
import type { ImportedDataset } from '../src/core/dataset/importer';
import { previewAugmentations } from '../src/core/image/augment';
import { deriveSeed, mulberry32, shuffle } from '../src/core/random';
import type { AugmentPreview, AugmentPreviewRequest } from '../src/engine/types';
import { thumbnailOf } from './thumbnail';

const MAX_IMAGES = 12;
const MAX_VARIANTS = 8;

/**
 * A few training images, drawn with `seed`, each with `variants` augmentations drawn with the same seed: the
 * same settings and seed always show the same previews, and a new seed shows other images and other draws.
 */
export async function augmentPreviews(data: ImportedDataset, req: AugmentPreviewRequest): Promise<AugmentPreview[]> {
  const pool = data.split.train.length ? data.split.train : data.keys.map((_, i) => i);
  const picked = shuffle([...pool], mulberry32(deriveSeed(req.seed, 'preview-images'))).slice(0, Math.min(MAX_IMAGES, Math.max(1, req.images)));
  const variants = Math.min(MAX_VARIANTS, Math.max(1, req.variants));
  const { imageSize: s, channels: c } = data;
  const px = s * s * c;
  const images = new Uint8Array(picked.length * px);
  picked.forEach((i, k) => images.set(data.images.subarray(i * px, (i + 1) * px), k * px));
  const out = await previewAugmentations({ images, imageSize: s, channels: c }, variants, req.augment, req.seed);
  return picked.map((i, k) => ({
    key: data.keys[i],
    original: thumbnailOf(images, s, c, k, data.keys[i], req.size),
    variants: Array.from({ length: variants }, (_, v) => thumbnailOf(out, s, c, k * variants + v, `${data.keys[i]}#${v + 1}`, req.size)),
  }));
}
