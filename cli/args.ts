/** What every command's flags share: the parser, the checks of single values, and the session flags. */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { nameProblem } from '../src/core/registry/registry';
import { CHOICES, flagProblem, settingFlag, type Range, type SettingFlag } from '../src/core/settings/schema';
import type { DatasetLayout } from '../src/core/dataset/layout';
import { checkDataFolder } from './folder-check';

/** A failure the user can fix: printed as one line with the usage, exit code 2. */
export class UsageError extends Error {}

/** A forced backend: 'auto' is what leaving --backend out means. */
export const BACKENDS = CHOICES.backend.filter((b): b is Exclude<typeof b, 'auto'> => b !== 'auto');

export type Options = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
export type Values<O> = { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : string };

export function int(name: string, v: string | undefined, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got "${v}")`);
  return n;
}

/** A settings flag's value, checked against the settings schema (`range` narrows it, e.g. probe epochs ≤ epochs). */
export function setting(flag: string, v: string | undefined, fallback: number, only?: SettingFlag['only'], range?: Range): number {
  if (v === undefined) return fallback;
  const problem = flagProblem(settingFlag(flag, only), v, range);
  if (problem) throw new UsageError(problem);
  return Number(v);
}

export function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got "${v}")`);
  return v as T;
}

export function fraction(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!(x >= 0 && x <= 1)) throw new UsageError(`--${name} must be a fraction from 0 to 1 (got "${v}")`);
  return x;
}

/**
 * `--epochs -3`: a value that is a negative number is the option's value (node's parser would take it for an option
 * and say "ambiguous"); joined as `--epochs=-3`, it reaches the range check and its message.
 */
function negativeValuesJoined(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && /^-(\d|\.\d|Infinity)/.test(argv[i + 1] ?? '')) out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

export function parse<O extends Options>(argv: string[], options: O): Values<O> {
  try {
    return parseArgs({ args: negativeValuesJoined(argv, options), options, strict: true, allowPositionals: false }).values as Values<O>;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export const COMMON_OPTIONS = {
  backend: { type: 'string' },
  browser: { type: 'string' },
  profile: { type: 'string' },
  port: { type: 'string' },
  out: { type: 'string' },
  verbose: { type: 'boolean' },
} as const;

export interface SessionArgs {
  backend: (typeof BACKENDS)[number] | 'auto';
  out?: string;
  browser?: string;
  profile: string;
  port: number;
  verbose: boolean;
}

function defaultProfile(): string {
  const dataHome = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(dataHome, 'mri-studio', 'profile');
}

export function sessionArgs(v: Values<typeof COMMON_OPTIONS>): SessionArgs {
  const backend = v.backend ?? 'auto';
  if (backend !== 'auto' && !(BACKENDS as readonly string[]).includes(backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')} (got "${backend}")`);
  return {
    backend: backend as SessionArgs['backend'],
    out: v.out === undefined ? undefined : resolve(v.out),
    browser: v.browser,
    profile: resolve(v.profile ?? defaultProfile()),
    port: int('port', v.port, 5199, 0, 65535),
    verbose: v.verbose ?? false,
  };
}

/** A --model NAME@VERSION|NAME@ALIAS whose name the registry could never hold is refused here, in the registry's words. */
export function modelRef(ref: string): void {
  const problem = nameProblem(ref.split('@')[0]);
  if (problem) throw new UsageError(`--model ${ref}: ${problem}`);
}

/** Refuses a --data/--external folder the page would refuse (empty, loose images, no images); prints its warnings. */
export function dataFolderWarnings(flag: string, dir: string): DatasetLayout {
  const { layout, refusal, warnings } = checkDataFolder(dir);
  if (refusal) throw new UsageError(`--${flag} ${dir}: ${refusal}`);
  for (const w of warnings) console.log(`warning: ${w.message}`);
  return layout;
}
