/** `predict`: every file of a folder classified by a registered model, as a CSV. */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { COMMON_OPTIONS, UsageError, modelRef, parse, sessionArgs, type SessionArgs } from '../args';
import { openStudio } from '../studio-page';

function filesUnder(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? 1 : 0), 0);
}

export function parsePredictArgs(argv: string[]): SessionArgs & { model: string; images: string; out: string } {
  const v = parse(argv, { ...COMMON_OPTIONS, model: { type: 'string' }, images: { type: 'string' } });
  if (!v.model) throw new UsageError('predict needs --model NAME@VERSION or NAME@ALIAS');
  modelRef(v.model);
  if (!v.images) throw new UsageError('predict needs --images DIR');
  if (!v.out) throw new UsageError('predict needs --out FILE.csv');
  const images = resolve(v.images);
  if (!existsSync(images) || !statSync(images).isDirectory()) throw new UsageError(`--images ${v.images}: no such folder`);
  if (filesUnder(images) === 0) throw new UsageError(`--images ${v.images}: the folder holds no files`);
  return { ...sessionArgs(v), model: v.model, images, out: resolve(v.out) };
}

export async function predictCommand(argv: string[]): Promise<number> {
  const args = parsePredictArgs(argv);
  const { result, csv } = await openStudio(args, (session) =>
    session.page.evaluate(
      async ({ url, ref }) => {
        const s = window.studio!;
        const { files, paths } = await s.folder(url);
        // As the inference panel classifies a picked folder: in name order, with the panel's audit setting.
        const images = files.map((file, k) => ({ name: paths[k], file })).sort((a, b) => a.name.localeCompare(b.name));
        const result = await s.engine.predict(ref, images, { audit: s.ui.inference.audit });
        return { result, csv: await s.engine.predictionsCsv(result) };
      },
      { url: session.share(args.images), ref: args.model },
    ),
  );
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, csv);
  const failed = result.predictions.filter((p) => !p.ok);
  for (const p of failed) if (!p.ok) console.log(`  ${p.name}: ${p.error}`);
  const latencies = result.predictions.flatMap((p) => (p.ok ? [p.latencyMs] : [])).sort((a, b) => a - b);
  const median = latencies.length ? `; median latency ${latencies[Math.floor(latencies.length / 2)].toFixed(1)} ms` : '';
  console.log(`classified ${latencies.length} of ${result.predictions.length} images with ${result.model} on ${result.backend}${median}${failed.length ? `; ${failed.length} could not be read` : ''}; wrote ${args.out}`);
  return latencies.length > 0 ? 0 : 1;
}
