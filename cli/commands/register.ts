/** `register`: a run's best model into the registry (its flags are import-cluster's too). */
import type { RegisterModelRequest } from '../../src/engine/types';
import { reviewRegistration } from '../../src/core/registry/registry';
import { COMMON_OPTIONS, UsageError, parse, sessionArgs, type SessionArgs, type Values } from '../args';
import { pct } from '../output';
import { openStudio } from '../studio-page';

export const REGISTER_OPTIONS = {
  name: { type: 'string' },
  version: { type: 'string' },
  alias: { type: 'string', multiple: true },
  description: { type: 'string' },
  tag: { type: 'string', multiple: true },
  'override-reason': { type: 'string' },
} as const;

export function parseRegisterArgs(argv: string[]): SessionArgs & { request: RegisterModelRequest } {
  const v = parse(argv, { ...COMMON_OPTIONS, run: { type: 'string' }, ...REGISTER_OPTIONS });
  if (!v.run) throw new UsageError('register needs --run ID (see "runs")');
  return { ...sessionArgs(v), request: registerRequest(v, v.run, 'register') };
}

/** --name, --version, --alias, --tag, --description and --override-reason as a registration of run `runId`. */
export function registerRequest(v: Values<typeof REGISTER_OPTIONS>, runId: string, command: string): RegisterModelRequest {
  if (!v.name) throw new UsageError(`${command} needs --name NAME`);
  if (!v.version) throw new UsageError(`${command} needs --version X.Y.Z`);
  const reason = v['override-reason']?.trim();
  if (v['override-reason'] !== undefined && !reason) throw new UsageError('--override-reason needs a reason, in words');
  // The name, version, aliases and tags are checked here, as the registry will check them; the gate needs the run.
  const form = reviewRegistration({ name: v.name, version: v.version, tags: v.tag, aliases: v.alias }, {}).problems.find((p) => p.field !== 'gate');
  if (form) throw new UsageError(`--${{ name: 'name', version: 'version', aliases: 'alias', tags: 'tag' }[form.field as string] ?? form.field}: ${form.message}`);
  return {
    runId,
    name: v.name,
    version: v.version,
    ...(v.description === undefined ? {} : { description: v.description }),
    ...(v.tag ? { tags: v.tag } : {}),
    ...(v.alias ? { aliases: v.alias } : {}),
    ...(reason ? { overrideReason: reason } : {}),
  };
}

export async function registerCommand(argv: string[]): Promise<number> {
  const args = parseRegisterArgs(argv);
  const v = await openStudio(args, ({ page }) => page.evaluate((req) => window.studio!.engine.register(req), args.request));
  const acc = v.validation ? `validation accuracy ${pct(v.validation.accuracy)} on ${v.validation.n} images` : 'no validation accuracy';
  console.log(`registered ${v.id}${v.aliases.length ? ` (${v.aliases.join(', ')})` : ''} from run ${v.runId}: ${acc}; gate ${pct(v.gate.threshold)} ${v.gate.passed ? 'passed' : `overridden: ${v.gate.override?.reason}`}`);
  return 0;
}
