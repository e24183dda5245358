// The core unit tests as StrykerJS runs them: the same files as the `core` project, with the model
// test's random runs fixed by a seed, so that every run of a mutant sees the same commands.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    setupFiles: ['mutation/seed.mjs'],
  },
});
