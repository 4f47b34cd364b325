/** `crossval`: k-fold cross-validation of a training config, one run per fold, in the page's engine. */
import type { CrossValidationResult } from '../../src/engine/types';
import { int } from '../args';
import { pct, writeJson } from '../output';
import { progressPrinter } from '../progress';
import { openStudio } from '../studio-page';
import { parseTrainArgs, trainConfig, type TrainArgs } from './train';

export interface CrossvalArgs extends TrainArgs {
  folds: number;
}

/** crossval takes train's options plus --folds K. */
export async function parseCrossvalArgs(argv: string[]): Promise<CrossvalArgs> {
  const at = argv.findIndex((a) => a === '--folds' || a.startsWith('--folds='));
  const inline = at >= 0 && argv[at].includes('=');
  const value = at < 0 ? undefined : inline ? argv[at].slice('--folds='.length) : argv[at + 1];
  const rest = at < 0 ? argv : [...argv.slice(0, at), ...argv.slice(at + (inline ? 1 : 2))];
  return { ...(await parseTrainArgs(rest, 'crossval')), folds: int('folds', value, 5, 2, 20) };
}

export function crossValidate(args: CrossvalArgs): Promise<CrossValidationResult> {
  return openStudio({ ...args, onEvent: progressPrinter(() => args.cfg.epochs) }, async (session, backend) => {
    const config = await trainConfig(session, backend, args);
    return session.page.evaluate((req) => window.studio!.engine.crossValidate(req, window.studio!.events), { config, folds: args.folds });
  });
}

export async function crossvalCommand(argv: string[]): Promise<number> {
  const args = await parseCrossvalArgs(argv);
  const result = await crossValidate(args);
  writeJson(args.out, result);
  const ms = (s: { mean: number; std: number } | null, f: (x: number) => string) => (s ? `${f(s.mean)} ± ${f(s.std)}` : 'n/a');
  console.log(`${result.status}: ${result.results.length} of ${result.folds} folds; accuracy ${ms(result.accuracy, pct)}, macro F1 ${ms(result.macroF1, (x) => x.toFixed(3))} (mean ± std); wrote ${args.out}`);
  return result.status === 'completed' ? 0 : 1;
}
