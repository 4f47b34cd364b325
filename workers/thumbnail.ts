/** Small RGBA previews of images held as uint8 (image-major, channels-last), for galleries: never every image. */
import type { Thumbnail } from '../src/engine/types';

export function thumbnailOf(images: Uint8Array, imageSize: number, channels: number, index: number, key: string, size: number): Thumbnail {
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
