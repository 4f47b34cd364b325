/** `runs`: the runs kept in the profile. */
import { COMMON_OPTIONS, parse, sessionArgs } from '../args';
import { pct, runSummary, writeJson } from '../output';
import { openStudio } from '../studio-page';

export async function runsCommand(argv: string[]): Promise<number> {
  const args = sessionArgs(parse(argv, COMMON_OPTIONS));
  const runs = await openStudio(args, ({ page }) => page.evaluate(() => window.studio!.engine.runs()));
  for (const r of runs) console.log(`${r.runId}  ${r.status.padEnd(9)}  ${r.backend.padEnd(6)}  ${r.model}  ${r.epochs.length} epochs  best ${r.best ? pct(r.best.valAccuracy) : '-'}`);
  if (runs.length === 0) console.log(`no runs in profile ${args.profile} (port ${args.port})`);
  if (args.out) writeJson(args.out, runs.map(runSummary));
  return 0;
}
