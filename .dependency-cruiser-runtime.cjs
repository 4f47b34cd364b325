/**
 * The second pass of the dependency rule (see .dependency-cruiser.cjs): on the graph without type-only imports, what
 * the page and the CLI may load. A core module is pure when it does not reach TF.js at run time, directly or through
 * other modules (config, metrics records, markdown, csv …); the page and the CLI may use those and no tensor code.
 * Type-only imports are erased by the compiler, so the UI may still name a tensor module's types (through src/engine).
 */
const base = require('./.dependency-cruiser.cjs');
const { UI, TFJS } = require('./.dependency-cruiser-paths.cjs');

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'ui-loads-no-tensor-code',
      severity: 'error',
      comment: 'The page bundle never contains TF.js: the UI may import the engine interface and pure core modules, not a core module that reaches @tensorflow.',
      from: { path: UI },
      to: { path: TFJS, reachable: true },
    },
    {
      name: 'engine-interface-loads-no-tensor-code',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: TFJS, reachable: true },
    },
    {
      name: 'cli-loads-no-tensor-code',
      severity: 'error',
      comment: 'The CLI drives the page: it may check inputs with pure core modules, never run tensor code itself.',
      from: { path: '^cli/' },
      to: { path: TFJS, reachable: true },
    },
  ],
  options: { ...base.options, tsPreCompilationDeps: false },
};
