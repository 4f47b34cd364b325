import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

// The dependency direction: ui → engine interface → core. Core is pure TypeScript that runs in a worker and in Node.
const ROOT = resolve(__dirname, '../..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|svelte)$/.test(name) ? [p] : [];
  });
}

interface Import {
  file: string;
  spec: string;
  /** Resolved project path for relative imports, else the bare package name. */
  target: string;
  typeOnly: boolean;
}

function imports(dir: string): Import[] {
  return files(join(ROOT, dir)).flatMap((file) => {
    const src = readFileSync(file, 'utf8');
    const out: Import[] = [];
    for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|new URL\(\s*['"]([^'"]+)['"]/gm)) {
      const spec = m[3] ?? m[4] ?? m[5] ?? m[6];
      const target = spec.startsWith('.') ? relative(ROOT, resolve(dirname(file), spec)) : spec;
      out.push({ file: relative(ROOT, file), spec, target, typeOnly: Boolean(m[2]) });
    }
    return out;
  });
}

const under = (target: string, dir: string) => target === dir || target.startsWith(dir + '/');

describe('dependency direction', () => {
  it('finds the imports it checks', () => {
    expect(imports('src/core').length).toBeGreaterThan(10);
    expect(imports('src/ui').length).toBeGreaterThan(5);
  });

  it('src/core imports neither the UI, the engine nor the workers, and touches no DOM', () => {
    const bad = imports('src/core').filter((i) => under(i.target, 'src/ui') || under(i.target, 'workers') || under(i.target, 'src/engine') || i.spec === 'svelte' || i.spec.startsWith('svelte/'));
    expect(bad).toEqual([]);
    const dom = files(join(ROOT, 'src/core')).filter((f) => /\b(document|window)\.|\bHTMLElement\b/.test(readFileSync(f, 'utf8')));
    expect(dom.map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('src/ui reaches the engine only through src/engine: no TF.js, no core, no workers', () => {
    const bad = imports('src/ui').filter((i) => i.spec.startsWith('@tensorflow/') || under(i.target, 'src/core') || under(i.target, 'workers'));
    expect(bad).toEqual([]);
  });

  it('src/engine (the interface) takes only types from the core', () => {
    const bad = imports('src/engine').filter((i) => (under(i.target, 'src/core') && !i.typeOnly) || under(i.target, 'src/ui') || i.spec.startsWith('@tensorflow/'));
    expect(bad).toEqual([]);
  });
});
