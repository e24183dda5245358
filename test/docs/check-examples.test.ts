import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

const out = `test/docs/.out/self-${process.pid}`;

function check(file: string) {
  const run = spawnSync(process.execPath, ['scripts/check-examples.mjs', file, '--out', out], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: run.status, output: `${run.stdout}\n${run.stderr}` };
}

afterAll(() => rmSync(join(root, out), { recursive: true, force: true }));

describe('the examples check', () => {
  // Built packages are what users install: the test command builds before it tests.
  const { status, output } = check('test/docs/fixtures/broken.md');
  const problems = output.split('\n').filter((line) => line.startsWith('test/docs/fixtures/broken.md:'));
  const at = (line: number) =>
    problems.filter((problem) => problem.startsWith(`test/docs/fixtures/broken.md:${line}:`));

  it('fails, naming the file and the line of each block that is wrong', () => {
    expect(status).toBe(1);
    expect(output).toMatch(
      /7 examples in 1 file: 4 js and 1 ts type-checked .* 2 of them run; 1 sh checked; 1 skipped/,
    );
    expect(output).toContain('10 example problems');
  });

  it('passes a block that type-checks and runs', () => {
    expect(at(10)).toEqual([]);
    expect(problems.some((problem) => /broken\.md:1[0-5]:/.test(problem))).toBe(false);
  });

  it('type-checks TypeScript under strict as an ES module and as CommonJS', () => {
    expect(at(22)).toEqual([
      expect.stringContaining("TS2322 (CommonJS) Type 'string' is not assignable to type 'number'"),
      expect.stringContaining("TS2322 (ES module) Type 'string' is not assignable to type 'number'"),
    ]);
  });

  it('type-checks JavaScript against what the built packages export', () => {
    expect(at(38)).toEqual([
      expect.stringContaining(
        "TS2724 (CommonJS) '\"@breaker/core\"' has no exported member named 'CircuitBreakr'",
      ),
      expect.stringContaining(
        "TS2724 (ES module) '\"@breaker/core\"' has no exported member named 'CircuitBreakr'",
      ),
    ]);
  });

  it('runs the runnable blocks and shows why one failed', () => {
    expect(at(30)).toEqual([expect.stringContaining('the runnable example exited with 1')]);
    expect(output).toContain('Invalid CircuitBreaker option "failureThreshold"');
  });

  it('checks shell lines against the pinned pnpm and the root scripts', () => {
    expect(at(44)).toEqual([
      expect.stringContaining('pnpm@9.0.0 is not the pinned packageManager pnpm@10.34.9'),
      expect.stringContaining('"tests" is not a script of the root package.json'),
    ]);
  });

  it('lists skipped blocks with their reason and refuses unknown directives', () => {
    expect(output).toContain('skipped test/docs/fixtures/broken.md:52: shows a shape, not code');
    expect(at(55)).toEqual([expect.stringContaining('unknown example directive "walk"')]);
  });

  it('follows relative links to files and headings', () => {
    expect(at(61)).toEqual([
      expect.stringContaining('the link missing.md leads nowhere'),
      expect.stringContaining('the link #no-such-heading names no heading'),
    ]);
  });
});
