import { defineConfig, type Options } from 'tsup';

/** How every package builds: ES modules and CommonJS with declarations, for Node 20. */
export function packageConfig(entry: Options['entry'] = ['src/index.ts']) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    // No `keepNames`: it names every function expression as it is made, closures made per call included.
    // Classes keep their names because none names itself in its own body (test/core-process.test.ts).
    tsconfig: 'tsconfig.json',
  });
}
