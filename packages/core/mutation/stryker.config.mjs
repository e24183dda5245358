// Mutation testing of @breaker/core: `pnpm mutation` at the repository's root runs StrykerJS with this file
// from packages/core. Every source file but the tests and the barrels is mutated; the core unit tests
// (the in-process tests of the HTTP guard among them) must notice each change. The reports go to
// packages/core/reports/mutation (ignored by git); incremental mode reruns only what a change touches.
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'mutation/vitest.config.mjs' },
  mutate: ['src/**/*.ts', '!src/**/*.test.ts', '!src/index.ts', '!src/http/index.ts'],
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: 'reports/mutation/incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  concurrency: 2,
  timeoutMS: 10_000,
  thresholds: { high: 90, low: 80, break: null },
};
