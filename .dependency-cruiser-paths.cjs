/** The folders both passes of the dependency rule name (.dependency-cruiser.cjs, .dependency-cruiser-runtime.cjs). */
module.exports = {
  /** The page: the Svelte UI and the two entry modules beside it. */
  UI: '^src/(ui/|main\\.ts$|automation\\.ts$)',
  TFJS: '(^|/)node_modules/@tensorflow/',
};
