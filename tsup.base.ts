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
    // Classes keep their own names (`error.constructor.name`, util.inspect): the bundler would otherwise rename some.
    keepNames: true,
    tsconfig: 'tsconfig.json',
  });
}
