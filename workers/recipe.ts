/** "Train at scale": a run's PyTorch recipe folder (src/core/recipe), from the run and its folder's stored split. */
import type { ImportedDataset } from '../src/core/dataset/importer';
import { buildRecipe } from '../src/core/recipe/build';
import { checkExportable, RecipeRefusal, type RecipeFile } from '../src/core/recipe/recipe';
import type { Zoo } from '../src/core/models/zoo';
import { getRun, getSplit, type StudioDB } from '../src/core/store/db';
import { EngineError } from '../src/engine/errors';

/**
 * The recipe's files for `runId`. `session`: the dataset imported in this session, whose content hashes stand in for
 * a stored split that predates them.
 */
export async function exportRecipe(db: StudioDB, zoo: Zoo, runId: string, opts: { fileNames: boolean }, session?: ImportedDataset): Promise<RecipeFile[]> {
  const run = await getRun(db, runId);
  if (!run) throw new EngineError('E_NOT_FOUND', `there is no run ${runId}`);
  try {
    checkExportable(run, zoo);
    const stored = await getSplit(db, run.dataset!.splitId!);
    if (!stored) throw new EngineError('E_NOT_FOUND', `the split of run ${runId}'s folder is no longer stored in this browser; import the folder again with the run's settings`);
    const fromSession = session?.fingerprint === stored.fingerprint ? Object.fromEntries(session.keys.map((k, i) => [k, session.contentHashes[i]])) : undefined;
    return buildRecipe({ run, zoo, manifest: stored.manifest, contentHashes: stored.contentHashes ?? fromSession, fileNames: opts.fileNames });
  } catch (err) {
    if (err instanceof RecipeRefusal) throw new EngineError('E_CONFIG', err.message);
    throw err;
  }
}
