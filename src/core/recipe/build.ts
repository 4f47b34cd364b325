/**
 * The exported folder itself: recipe.ts's config and split, readme.ts's texts and the Python file, kept apart from
 * both so that the README's templates can take recipe.ts's config type without an import cycle.
 */
import { readmeText, slurmText } from './readme';
import type { SplitManifest } from '../dataset/split';
import { recipeConfig, RecipeRefusal, splitCsv, type RecipeFile, type RecipeInput } from './recipe';
import trainPy from './train.py?raw';

/** The exported folder's files, in the order a person reads them. */
export function buildRecipe(input: RecipeInput): RecipeFile[] {
  const config = recipeConfig(input);
  const split = splitCsv(input.manifest, input.fileNames ? null : requireHashes(input.manifest, input.contentHashes));
  return [
    { name: 'README.md', text: readmeText(config) },
    { name: 'train.py', text: trainPy },
    { name: 'config.json', text: JSON.stringify(config, null, 2) + '\n' },
    { name: 'split.csv', text: split },
    { name: 'requirements.txt', text: 'torch>=1.13\ntorchvision>=0.14\nnumpy\npillow\n' },
    { name: 'slurm.sh', text: slurmText(config) },
  ];
}

function requireHashes(manifest: SplitManifest, hashes: RecipeInput['contentHashes']): Readonly<Record<string, string>> {
  const missing = manifest.entries.filter((e) => !hashes?.[e.path]);
  if (missing.length) {
    throw new RecipeRefusal(`the stored split has no content hash for ${missing.length} of its ${manifest.entries.length} images (it was imported before the studio kept them); import the folder again, or export with file names`);
  }
  return hashes!;
}
