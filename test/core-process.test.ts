import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const core = fileURLToPath(new URL('../packages/core/', import.meta.url));
const esm = `${core}dist/index.js`;
const cjs = `${core}dist/index.cjs`;

beforeAll(() => {
  if (!existsSync(esm) || !existsSync(cjs)) execFileSync('npx', ['tsup'], { cwd: core, stdio: 'ignore' });
}, 120_000);

function run(source: string, type: 'module' | 'commonjs' = 'module') {
  const args = type === 'module' ? ['--input-type=module', '-e', source] : ['-e', source];
  const started = Date.now();
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 20_000 });
  return { ...result, elapsed: Date.now() - started };
}

describe('the built package in a real process', () => {
  it('a process with open, undisposed breakers exits at once', () => {
    const result = run(`
      import { CircuitBreaker } from ${JSON.stringify(esm)};
      const breakers = [];
      for (let i = 0; i < 100; i++) {
        const breaker = new CircuitBreaker({ name: 'b' + i, failureThreshold: 1, timeout: 60_000 });
        await breaker.fire(() => { throw new Error('down'); }).catch(() => {});
        breakers.push(breaker);
      }
      console.log(breakers.filter((b) => b.state === 'open').length);
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('100');
    expect(result.status).toBe(0);
    expect(result.elapsed).toBeLessThan(10_000);
  });

  it('idle closed breakers hold no timer at all', () => {
    const result = run(
      `
      const { CircuitBreaker } = require(${JSON.stringify(cjs)});
      const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const breakers = [];
      for (let i = 0; i < 1000; i++) breakers.push(new CircuitBreaker({ name: 'b' + i, failureRateThreshold: 50 }));
      Promise.all(breakers.map((b) => b.fire(() => 'ok'))).then(() => {
        const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
        console.log(after - before);
      });
    `,
      'commonjs',
    );
    expect(result.stdout.trim()).toBe('0');
    expect(result.status).toBe(0);
  });

  it('a hung call with callTimeout settles and lets the process exit', () => {
    const result = run(`
      import { CircuitBreaker } from ${JSON.stringify(esm)};
      const breaker = new CircuitBreaker({ callTimeout: 50 });
      const error = await breaker.fire(({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))).catch((e) => e);
      console.log(error.code);
    `);
    expect(result.stdout.trim()).toBe('BREAKER_TIMEOUT');
    expect(result.status).toBe(0);
  });

  it('instanceof holds across the ESM and CommonJS copies of the package', () => {
    const result = run(`
      import { createRequire } from 'node:module';
      import * as esm from ${JSON.stringify(esm)};
      const cjs = createRequire(import.meta.url)(${JSON.stringify(cjs)});
      const breaker = new cjs.CircuitBreaker({ failureThreshold: 1 });
      await breaker.fire(() => { throw new Error('down'); }).catch(() => {});
      const error = await breaker.fire(() => 'x').catch((e) => e);
      console.log(esm.BreakerOpenError !== cjs.BreakerOpenError, error instanceof esm.BreakerOpenError, error instanceof esm.BreakerError, error instanceof esm.CallTimeoutError);
    `);
    expect(result.stdout.trim()).toBe('true true true false');
  });

  it('the testing entry point exports ManualClock in both formats', () => {
    const result = run(`
      import { ManualClock } from ${JSON.stringify(`${core}dist/testing.js`)};
      import { createRequire } from 'node:module';
      const cjs = createRequire(import.meta.url)(${JSON.stringify(`${core}dist/testing.cjs`)});
      console.log(typeof new ManualClock().advance, typeof new cjs.ManualClock().advance);
    `);
    expect(result.stdout.trim()).toBe('function function');
  });

  it('errors and classes keep their own names in the built package', () => {
    const result = run(`
      import { inspect } from 'node:util';
      import { BreakerOpenError, CircuitBreaker, InvalidOptionError } from ${JSON.stringify(esm)};
      const open = new BreakerOpenError('partner', 'open', 1500);
      console.log([
        open.constructor.name,
        new InvalidOptionError('x', 'bad').constructor.name,
        CircuitBreaker.name,
        inspect(open).split('\\n')[0],
      ].join('|'));
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(
      'BreakerOpenError|InvalidOptionError|CircuitBreaker|BreakerOpenError: Circuit breaker "partner" is open; retry in 2 s',
    );
  });
});
