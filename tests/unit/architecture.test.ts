import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { ICruiseResult } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

// The dependency rule lives in .dependency-cruiser.cjs (every import, types included: layers and cycles) and
// .dependency-cruiser-runtime.cjs (what the page and the CLI load: no tensor code); `npm run deps` runs the same two.
const ROOT = resolve(__dirname, '../..');
const FOLDERS = ['src', 'workers', 'cli', 'bench', 'tests'];
const SOURCE = /\.(ts|svelte)$/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : SOURCE.test(name) ? [p] : [];
  });
}

const BIN = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const depcruise = (config: string, outputType: string) => spawnSync(process.execPath, [BIN, '--config', config, '--output-type', outputType, ...FOLDERS], { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });

const runs = new Map<string, { result: ICruiseResult; report: () => string }>();
/** One cruise per config file, shared by the tests that read it (the same command as `npm run deps`). */
function cruised(config: string): { result: ICruiseResult; report: () => string } {
  if (!runs.has(config)) {
    const run = depcruise(config, 'json');
    if (!run.stdout) throw new Error(`depcruise --config ${config} failed: ${run.stderr}`);
    // dependency-cruiser's own words for each violation (the rule, the offending edge, cycle or path, and why),
    // asked for only when there is one to show.
    runs.set(config, { result: JSON.parse(run.stdout) as ICruiseResult, report: () => depcruise(config, 'err-long').stdout });
  }
  return runs.get(config)!;
}

describe('dependency rule (dependency-cruiser)', () => {
  it('cruises every source folder and every source file in them', () => {
    const withSource = readdirSync(ROOT).filter((d) => !d.startsWith('.') && !['node_modules', 'dist'].includes(d) && statSync(join(ROOT, d)).isDirectory() && files(join(ROOT, d)).length > 0);
    expect(withSource.sort()).toEqual([...FOLDERS].sort());
    const { result } = cruised('.dependency-cruiser.cjs');
    const seen = new Set(result.modules.map((m) => m.source));
    const missed = FOLDERS.flatMap((d) => files(join(ROOT, d))).map((f) => relative(ROOT, f)).filter((f) => !f.endsWith('.d.ts') && !seen.has(f));
    expect(missed).toEqual([]);
  });

  it('holds the layers and finds no cycle, type-only imports included', () => {
    const { result, report } = cruised('.dependency-cruiser.cjs');
    expect(result.summary.ruleSetUsed?.forbidden?.map((r) => r.name)).toContain('no-circular');
    expect(result.summary.error, result.summary.error ? report() : '').toBe(0);
  });

  it('loads no tensor code in the page, the engine interface or the CLI', () => {
    const { result, report } = cruised('.dependency-cruiser-runtime.cjs');
    expect(result.summary.error, result.summary.error ? report() : '').toBe(0);
  });

  it('src/core touches no DOM', () => {
    const dom = files(join(ROOT, 'src/core')).filter((f) => /\b(document|window)\.|\bHTMLElement\b/.test(readFileSync(f, 'utf8')));
    expect(dom.map((f) => relative(ROOT, f))).toEqual([]);
  });
});
