/** `resume`: a stopped run continued from its last checkpoint. */
import { COMMON_OPTIONS, UsageError, parse, sessionArgs } from '../args';
import { pct, runSummary, writeJson } from '../output';
import { progressPrinter } from '../progress';
import { openStudio } from '../studio-page';

export async function resumeCommand(argv: string[]): Promise<number> {
  const v = parse(argv, { ...COMMON_OPTIONS, run: { type: 'string' } });
  if (!v.run) throw new UsageError('resume needs --run ID (see "runs")');
  const args = sessionArgs(v);
  const run = await openStudio({ ...args, onEvent: progressPrinter(() => Number.NaN) }, ({ page }) =>
    page.evaluate(async (id) => {
      const s = window.studio!;
      if (!(await s.engine.runs()).some((r) => r.runId === id)) throw new Error(`E_NOT_FOUND: there is no run ${id} in this profile`);
      return s.engine.resume(id, s.events);
    }, v.run!),
  );
  if (args.out) writeJson(args.out, runSummary(run));
  console.log(`${run.status}: best val accuracy ${run.best ? pct(run.best.valAccuracy) : 'n/a'} at epoch ${run.best?.epoch ?? '-'}`);
  return run.status === 'completed' ? 0 : 1;
}
