/** `export-recipe`: a run as a PyTorch DDP project to train at scale. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { COMMON_OPTIONS, UsageError, parse, sessionArgs } from '../args';
import { openStudio } from '../studio-page';

export async function exportRecipeCommand(argv: string[]): Promise<number> {
  const v = parse(argv, { ...COMMON_OPTIONS, run: { type: 'string' }, 'file-names': { type: 'boolean' } });
  if (!v.run) throw new UsageError('export-recipe needs --run ID (see "runs")');
  if (!v.out) throw new UsageError('export-recipe needs --out DIR, the folder the recipe goes to');
  const out = resolve(v.out);
  const req = { runId: v.run, fileNames: v['file-names'] ?? false };
  const files = await openStudio(sessionArgs(v), ({ page }) => page.evaluate(({ runId, fileNames }) => window.studio!.engine.exportRecipe(runId, { fileNames }), req));
  mkdirSync(out, { recursive: true });
  // The scripts are run directly (./slurm.sh, ./train.py) as well as through python and sbatch.
  for (const f of files) writeFileSync(join(out, f.name), f.text, { mode: f.name.endsWith('.py') || f.name.endsWith('.sh') ? 0o755 : 0o644 });
  console.log(`wrote ${files.map((f) => f.name).join(', ')} to ${out} (split.csv keys: ${req.fileNames ? 'file paths' : 'SHA-256 of each file'}); next: see ${join(out, 'README.md')}`);
  return 0;
}
