import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const core = fileURLToPath(new URL('./packages/core/src/', import.meta.url));
const packages = fileURLToPath(new URL('./packages/', import.meta.url));
const aliases = [
  { find: /^@breaker\/core\/testing$/, replacement: `${core}testing.ts` },
  { find: /^@breaker\/core\/http$/, replacement: `${core}http/index.ts` },
  { find: /^@breaker\/core$/, replacement: `${core}index.ts` },
  {
    find: /^@breaker\/(express|koa|undici|redis|prometheus|opentelemetry|dashboard|drivers)$/,
    replacement: `${packages}$1/src/index.ts`,
  },
];

export default defineConfig({
  test: {
    // The integration files mostly wait on servers, Redis and timers, not on the CPU.
    maxWorkers: 3,
    projects: [
      {
        test: {
          name: 'core',
          root: './packages/core',
          include: ['src/**/*.test.ts'],
        },
      },
      {
        resolve: { alias: aliases },
        test: {
          name: 'integration',
          // Real servers and processes: generous limits, so a loaded machine slows the suite but never fails it.
          testTimeout: 20_000,
          root: './test',
          include: ['**/*.test.ts'],
          exclude: [
            'bench/**',
            'soak/**',
            'redis/topologies-store.test.ts',
            'redis/spread.test.ts',
            '**/node_modules/**',
          ],
        },
      },
      {
        resolve: { alias: aliases },
        test: {
          // Timed to milliseconds (Redis Cluster and Sentinel failovers within 100 ms, replicas' random
          // waits of up to 20 ms): after the other files, one at a time.
          name: 'timed',
          testTimeout: 20_000,
          root: './test',
          include: ['redis/topologies-store.test.ts', 'redis/spread.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          // Whole fleets of processes on their own: run alone (`pnpm test:soak`), never beside other files.
          name: 'soak',
          root: './test/soak',
          include: ['**/*.soak.test.ts'],
          testTimeout: 180_000,
          sequence: { groupOrder: 2 },
          // The fleet soak and the chaos run each load the machine on their own: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
