/** `import-onnx`: an ONNX CNN up to its global pool, imported into the profile as a backbone. */
import { existsSync } from 'node:fs';
import { COMMON_OPTIONS, UsageError, oneOf, parse, sessionArgs } from '../args';
import { writeJson } from '../output';
import { openStudio } from '../studio-page';

export async function importOnnxCommand(argv: string[]): Promise<number> {
  const v = parse(argv, { ...COMMON_OPTIONS, file: { type: 'string' }, id: { type: 'string' }, name: { type: 'string' }, normalization: { type: 'string' } });
  if (!v.file || !v.id) throw new UsageError('import-onnx needs --file MODEL.onnx and --id ID');
  if (!existsSync(v.file)) throw new UsageError(`--file ${v.file} does not exist`);
  const normalization = oneOf('normalization', v.normalization, ['imagenet', '[-1,1]'] as const) ?? 'imagenet';
  const req = { id: v.id, ...(v.name ? { name: v.name } : {}), normalization };
  const args = sessionArgs(v);
  const done = await openStudio(args, (session) =>
    session.page.evaluate(async ({ url, ...r }) => {
      const file = await window.studio!.file(url);
      return window.studio!.engine.importOnnxBackbone({ ...r, file: { name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) } });
    }, { ...req, url: session.share(v.file!) }),
  );
  const p = done.parity;
  console.log(`${done.id}: ${done.params.toLocaleString('en')} parameters, ${done.inputSize} px ${done.inputLayout}, features ${done.features.join('×')}`);
  console.log(`operators: ${Object.entries(done.ops).map(([op, n]) => `${op} ×${n}`).join(', ')}`);
  console.log(`parity with ${p.runtime} (${p.backend}, ${p.images} images): ${p.outputDifference === null ? '' : `largest logit difference ${p.outputDifference.toExponential(2)}, `}largest feature difference ${p.featureDifference.toExponential(2)} (≤ ${p.tolerance})`);
  if (done.classifier) console.log(`the classifier after the pool was left out: ${done.classifier}`);
  if (args.out) writeJson(args.out, done);
  return 0;
}
