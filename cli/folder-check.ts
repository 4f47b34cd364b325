/**
 * The CLI's look at a dataset folder before any browser starts: the same layout detection and scan checks the page
 * runs on a picked folder (src/core/dataset/checks.ts), on the paths the page's folder input would list (each one
 * starting with the folder's own name), so an empty folder or loose images are refused at once, in the page's words.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { scanChecks, type DataCheck } from '../src/core/dataset/checks';
import { detectLayout, type DatasetLayout, type PathEntry } from '../src/core/dataset/layout';

/** Every file under `dir` (recursively, not following links), as a folder pick lists them. */
export function listFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) listFiles(path, out);
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** The folder's layout, its refusal (null when it can be imported) and its warnings. */
export function checkDataFolder(dir: string): { layout: DatasetLayout; refusal: string | null; warnings: DataCheck[] } {
  const name = basename(dir);
  const entries: PathEntry[] = listFiles(dir).map((path) => ({ path: [name, ...relative(dir, path).split(sep)].join('/'), size: statSync(path).size }));
  const layout = detectLayout(entries);
  return { layout, ...scanChecks(layout, entries.map((e) => e.path), name) };
}
