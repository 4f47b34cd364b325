/**
 * The dependency rule, checked by dependency-cruiser over every source folder (`npm run deps`, and
 * tests/unit/architecture.test.ts). Layers: ui → engine interface → core, workers → core; the CLI drives the built
 * page; bench and tests may use anything but nothing uses them.
 *
 * This pass sees every import, type-only ones included (`tsPreCompilationDeps`), so it also forbids cycles of types.
 * Whether a module is tensor code is a runtime question: `.dependency-cruiser-runtime.cjs` answers it on the graph
 * without type-only imports.
 */

const { UI, TFJS } = require('./.dependency-cruiser-paths.cjs');

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules form layers: a cycle (of values or of types) ties them into one. Move the shared part into a module of its own.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-stays-core',
      severity: 'error',
      comment: 'src/core is plain TypeScript that runs in the worker and in Node: it imports neither the page, the engine interface, the workers, the CLI, bench, tests nor Svelte.',
      from: { path: '^src/core/' },
      to: { path: [`${UI}`, '^src/engine/', '^(workers|cli|bench|tests)/', '(^|/)node_modules/svelte/'] },
    },
    {
      name: 'engine-interface-takes-types',
      severity: 'error',
      comment: 'src/engine is the typed interface between the page and the worker: from the core it takes types only, and it never imports TF.js, the page, the workers or the tools.',
      from: { path: '^src/engine/' },
      to: { path: '^src/core/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'engine-interface-stays-thin',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: [UI, '^(workers|cli|bench|tests)/', TFJS] },
    },
    {
      name: 'ui-through-engine',
      severity: 'error',
      comment: 'The page reaches the worker only through src/engine; it never names TF.js, not even for a type (pure core modules are allowed: see the runtime pass).',
      from: { path: UI },
      to: { path: ['^(workers|cli|bench|tests)/', TFJS] },
    },
    {
      name: 'workers-below-ui',
      severity: 'error',
      comment: 'The workers implement the engine on the core; they never import the page or the tools.',
      from: { path: '^workers/' },
      to: { path: [UI, '^(cli|bench|tests)/'] },
    },
    {
      name: 'cli-drives-the-page',
      severity: 'error',
      comment: 'The CLI serves dist/ and drives the page in Chromium: it never imports the workers, the page or the tools.',
      from: { path: '^cli/' },
      to: { path: ['^workers/', UI, '^(bench|tests)/'] },
    },
    {
      name: 'tools-are-leaves',
      severity: 'error',
      comment: 'bench and tests may import anything, but the product imports neither (bench reuses the test fixtures).',
      from: { path: '^(src|workers|cli)/' },
      to: { path: '^(bench|tests)/' },
    },
    {
      name: 'tests-do-not-run-bench',
      severity: 'error',
      from: { path: '^tests/' },
      to: { path: '^bench/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.svelte', '.js', '.mjs', '.cjs', '.d.ts'],
    },
  },
};
