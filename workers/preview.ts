/** Small RGBA previews of the imported images, plain and augmented, for the UI (which never holds every image). */
import type { ImportedDataset } from '../src/core/dataset/importer';
import { previewAugmentations } from '../src/core/image/augment';
import { deriveSeed, mulberry32, shuffle } from '../src/core/random';
import type { AugmentPreview, AugmentPreviewRequest, Thumbnail } from '../src/engine/types';

/** Image `index` of a uint8 [n, s, s, c] buffer as a size × size RGBA thumbnail. */
export function thumbnailOf(images: Uint8Array, index: number, imageSize: number, channels: number, size: number, key: string): Thumbnail {
  const s = imageSize;
  const c = channels;
  const rgba = new Uint8ClampedArray(size * size * 4);
  // Nearest-neighbour: thumbnails only need to be recognisable, and this stays cheap for a gallery.
  for (let y = 0; y < size; y++) {
    const sy = Math.floor(((y + 0.5) * s) / size);
    for (let x = 0; x < size; x++) {
      const sx = Math.floor(((x + 0.5) * s) / size);
      const src = ((index * s + sy) * s + sx) * c;
      const dst = (y * size + x) * 4;
      rgba[dst] = images[src];
      rgba[dst + 1] = images[src + (c === 3 ? 1 : 0)];
      rgba[dst + 2] = images[src + (c === 3 ? 2 : 0)];
      rgba[dst + 3] = 255;
    }
  }
  return { key, size, rgba };
}

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
    original: thumbnailOf(images, k, s, c, req.size, data.keys[i]),
    variants: Array.from({ length: variants }, (_, v) => thumbnailOf(out, k * variants + v, s, c, req.size, `${data.keys[i]}#${v + 1}`)),
  }));
}
