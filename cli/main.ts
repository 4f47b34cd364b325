/**
 * The headless studio: serves the built app on loopback, opens it in Chromium through Playwright and drives the
 * same engine, in the same worker, as the UI. There is no separate Node training path. Each command is a module of
 * cli/commands/; this one only picks it and turns its failure into one line and an exit code.
 *
 *   npm run studio -- train --demo --epochs N [--backend webgpu|webgl|wasm|cpu] [--seed N] --out FILE.json
 */
import { UsageError } from './args';
import { crossvalCommand } from './commands/crossval';
import { evaluateCommand } from './commands/evaluate';
import { exportCommand } from './commands/export';
import { exportRecipeCommand } from './commands/export-recipe';
import { importClusterCommand } from './commands/import-cluster';
import { importOnnxCommand } from './commands/import-onnx';
import { measurementsCommand } from './commands/measurements';
import { predictCommand } from './commands/predict';
import { registerCommand } from './commands/register';
import { resumeCommand } from './commands/resume';
import { runsCommand } from './commands/runs';
import { trainCommand } from './commands/train';
import { oneLine } from './output';
import { USAGE } from './usage';

/** Each command: its arguments after the command's name → the process's exit code. */
const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  train: trainCommand,
  resume: resumeCommand,
  evaluate: evaluateCommand,
  crossval: crossvalCommand,
  runs: runsCommand,
  measurements: measurementsCommand,
  register: registerCommand,
  'import-cluster': importClusterCommand,
  export: exportCommand,
  'export-recipe': exportRecipeCommand,
  predict: predictCommand,
  'import-onnx': importOnnxCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  try {
    if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command "${command}"`);
    return await COMMANDS[command](rest);
  } catch (err) {
    console.error(`studio: ${oneLine(err)}`);
    if (err instanceof UsageError) console.error(USAGE);
    return err instanceof UsageError ? 2 : 1;
  }
}
