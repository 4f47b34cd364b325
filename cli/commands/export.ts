/** `export`: a registered model's files (TF.js or ONNX), its metadata and model card. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { COMMON_OPTIONS, UsageError, modelRef, oneOf, parse, sessionArgs, type SessionArgs } from '../args';
import { openStudio } from '../studio-page';

export function parseExportArgs(argv: string[]): SessionArgs & { model: string; format: 'tfjs' | 'onnx'; out: string } {
  const v = parse(argv, { ...COMMON_OPTIONS, model: { type: 'string' }, format: { type: 'string' } });
  if (!v.model) throw new UsageError('export needs --model NAME@VERSION or NAME@ALIAS');
  modelRef(v.model);
  const format = oneOf('format', v.format, ['tfjs', 'onnx'] as const);
  if (!format) throw new UsageError('export needs --format tfjs|onnx');
  if (!v.out) throw new UsageError('export needs --out DIR, the folder the files go to');
  return { ...sessionArgs(v), model: v.model, format, out: resolve(v.out) };
}

export async function exportCommand(argv: string[]): Promise<number> {
  const args = parseExportArgs(argv);
  const exported = await openStudio(args, ({ page }) => page.evaluate(({ model, format }) => window.studio!.engine.exportModel(model, format), { model: args.model, format: args.format }));
  mkdirSync(args.out, { recursive: true });
  for (const f of exported.files) writeFileSync(join(args.out, f.name), f.bytes);
  console.log(`exported ${exported.id} as ${exported.format}: ${exported.files.map((f) => f.name).join(', ')} to ${args.out}`);
  const p = exported.parity;
  if (p) console.log(`ONNX parity: largest probability difference ${p.maxDifference.toExponential(2)} on ${p.images} ${p.source} images (${p.runtime}), tolerance ${p.tolerance}: ${p.passed ? 'passed' : 'FAILED'}`);
  return p && !p.passed ? 1 : 0;
}
