/** `measurements`: the backend measurements kept in the profile. */
import { COMMON_OPTIONS, parse, sessionArgs } from '../args';
import { writeJson } from '../output';
import { openStudio } from '../studio-page';

export async function measurementsCommand(argv: string[]): Promise<number> {
  const args = sessionArgs(parse(argv, COMMON_OPTIONS));
  const all = await openStudio(args, ({ page }) => page.evaluate(() => window.studio!.engine.backendMeasurements()));
  for (const m of all) console.log(`${m.measuredAt}  ${m.model} (${m.strategy}, ${m.imageSize} px, batch ${m.batchSize}) on ${m.adapter ? [m.adapter.vendor, m.adapter.architecture, m.adapter.description].filter(Boolean).join(' ') : 'no GPU adapter'}: ${[...m.figures.map((f) => `${f.backend} ${f.secondsPerStep.toFixed(3)} s/step (first ${f.firstStepSeconds.toFixed(1)} s)`), ...m.failed.map((f) => `${f.backend} failed: ${f.reason}`)].join(', ')} → ${m.fastest}`);
  if (all.length === 0) console.log(`no backend measurements in profile ${args.profile} (port ${args.port})`);
  if (args.out) writeJson(args.out, all);
  return 0;
}
