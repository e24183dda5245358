#!/usr/bin/env node
// Runs the vitest suite (but the fleet soak) under the other supported Node.js majors (the engines range is open
// upwards), using the `node` package from the npm registry through npx: no version manager needed.
// Vitest's workers are started with process.execPath, so they run on the same Node as the runner.
//
// Usage: node scripts/test-other-nodes.mjs [major...]   (default: 22 24)
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const args = process.argv.slice(2);
const majors = args.length > 0 ? args : ['22', '24'];

// Settings that pnpm hands its scripts as npm_config_* variables and npm does not know: npx would
// print an "Unknown env config" warning for each one on every call.
const pnpmOnly = /^npm_config_(verify_deps_before_run|npm_globalconfig|_jsr_registry)$/i;
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !pnpmOnly.test(key)));

// `npx -y -p node@22 node ...` puts that package's `node` first on PATH for the command it runs.
function nodeAt(major, nodeArgs, stdio) {
  return spawnSync('npx', ['-y', '-p', `node@${major}`, 'node', ...nodeArgs], {
    cwd: root,
    stdio,
    encoding: 'utf8',
    env,
  });
}

const passed = [];
const failed = [];
for (const major of majors) {
  console.log(`\n=== Node ${major}: resolving node@${major} with npx ===`);
  const probe = nodeAt(major, ['-p', 'process.version'], ['ignore', 'pipe', 'inherit']);
  const version = (probe.stdout ?? '').trim();
  if (probe.status !== 0 || !version.startsWith(`v${major}.`)) {
    console.error(
      `Node ${major}: npx gave ${version || 'no node'} (exit ${probe.status}${probe.error ? `, ${probe.error.message}` : ''})`,
    );
    failed.push(`${major} (not available)`);
    continue;
  }
  console.log(`=== Node ${version}: vitest run ===`);
  // The soak project runs once, on the Node that runs the whole test command.
  const res = nodeAt(
    major,
    [vitest, 'run', '--project', 'core', '--project', 'integration', '--project', 'timed'],
    'inherit',
  );
  if (res.status === 0) passed.push(version);
  else failed.push(`${version} (exit ${res.status ?? res.signal ?? res.error?.message})`);
}

console.log(`\nOther Node versions passed: ${passed.join(', ') || 'none'}`);
if (failed.length > 0) {
  console.error(`Other Node versions FAILED: ${failed.join(', ')}`);
  process.exit(1);
}
