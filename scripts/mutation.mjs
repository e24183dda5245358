#!/usr/bin/env node
// `pnpm mutation`: StrykerJS over @breaker/core (packages/core/mutation/stryker.config.mjs), then the
// score per file and in all, printed and written with the date, the commit and the mutants marked as
// equivalent in the code to packages/core/mutation/RESULTS.md. Reports (HTML, JSON) stay under the ignored
// packages/core/reports/mutation. Incremental: a rerun after a small change tests only what it touches;
// `--full` starts over.
//
// Usage: node scripts/mutation.mjs [--full] [--results-only]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const core = join(root, 'packages', 'core');
const report = join(core, 'reports', 'mutation', 'mutation.json');
const results = join(core, 'mutation', 'RESULTS.md');
const args = process.argv.slice(2);

/** The commit measured: read before StrykerJS copies the sources, as the run tests what was there then. */
const commit = (() => {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'packages/core/src'], {
      cwd: root,
      encoding: 'utf8',
    });
    return dirty.trim() === '' ? head : `${head}, with uncommitted changes under packages/core/src`;
  } catch {
    return 'unknown';
  }
})();

if (!args.includes('--results-only')) {
  if (args.includes('--full')) rmSync(join(core, 'reports', 'mutation', 'incremental.json'), { force: true });
  const stryker = join(root, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
  const run = spawnSync(process.execPath, [stryker, 'run', 'mutation/stryker.config.mjs'], {
    cwd: core,
    stdio: 'inherit',
  });
  if (run.status !== 0) {
    console.error(`StrykerJS failed (exit ${run.status ?? run.signal})`);
    process.exit(1);
  }
}

if (!existsSync(report)) {
  console.error(`No report at ${relative(root, report)}: run without --results-only first.`);
  process.exit(1);
}

/** Killed and timed-out mutants are detected; survivors and mutants no test reaches are not. */
function score(mutants) {
  const count = (status) => mutants.filter((m) => m.status === status).length;
  const killed = count('Killed');
  const timeout = count('Timeout');
  const survived = count('Survived');
  const noCoverage = count('NoCoverage');
  const ignored = count('Ignored');
  const errors = count('CompileError') + count('RuntimeError');
  const detected = killed + timeout;
  const valid = detected + survived + noCoverage;
  return {
    killed,
    timeout,
    survived,
    noCoverage,
    ignored,
    errors,
    valid,
    score: valid === 0 ? 100 : (detected * 100) / valid,
  };
}

const json = JSON.parse(readFileSync(report, 'utf8'));
const files = Object.entries(json.files)
  .map(([file, { mutants }]) => ({ file: relative(core, resolve(core, file)), ...score(mutants) }))
  .sort((a, b) => a.file.localeCompare(b.file));
const total = score(Object.values(json.files).flatMap(({ mutants }) => mutants));

/** Mutants marked as equivalent in the code: `// Stryker disable next-line <mutator>: <reason>`. */
function equivalents() {
  const found = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) {
        readFileSync(path, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            const match = /\/\/\s*Stryker disable(?:-next-line| next-line)\s+([^:]+):\s*(.*)$/.exec(line);
            if (match)
              found.push({
                where: `${relative(core, path)}:${i + 1}`,
                mutators: match[1].trim(),
                reason: match[2].trim(),
              });
          });
      }
    }
  };
  walk(join(core, 'src'));
  return found;
}

const pct = (value) => `${value.toFixed(1)} %`;
const row = (cells) => `| ${cells.join(' | ')} |`;
const header = ['file', 'score', 'killed', 'timeout', 'survived', 'no coverage', 'ignored'];
const lines = [
  row(header),
  row(header.map((_, i) => (i === 0 ? '---' : '---:'))),
  ...files.map((f) => row([f.file, pct(f.score), f.killed, f.timeout, f.survived, f.noCoverage, f.ignored])),
  row([
    '**all of @breaker/core**',
    `**${pct(total.score)}**`,
    total.killed,
    total.timeout,
    total.survived,
    total.noCoverage,
    total.ignored,
  ]),
];
const marked = equivalents();
const document = [
  '# Mutation score of @breaker/core',
  `\`pnpm mutation\` (StrykerJS ${json.framework?.version ?? ''}, vitest runner, \`perTest\` coverage, ` +
    `incremental) on ${new Date().toISOString().slice(0, 10)}, commit ${commit}, Node ${process.version}. ` +
    'Score: killed and timed-out mutants over all but the ignored ones and those that do not compile.',
  lines.join('\n'),
  `## Mutants marked as equivalent (${marked.length})`,
  marked.length === 0
    ? 'None.'
    : marked.map((m) => `- \`${m.where}\` (${m.mutators}): ${m.reason}`).join('\n'),
].join('\n\n');
writeFileSync(results, `${document}\n`);
console.log(`\n${lines.join('\n')}\n\nWritten to ${relative(root, results)}`);
