import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// What users see of the built packages: `error.constructor.name`, util.inspect, stack frames. Every class
// and function an entry point exports carries its own name, in both formats. (The packages are built
// before the tests run; a package not built yet is skipped.)
const packages = fileURLToPath(new URL('../packages/', import.meta.url));
const require = createRequire(import.meta.url);
/** Exported under another name on purpose. */
const ALIASES = new Set(['describeValue']);

interface Entry {
  label: string;
  file: string;
  format: 'esm' | 'cjs';
}

function entries(): Entry[] {
  const found: Entry[] = [];
  for (const dir of readdirSync(packages)) {
    const manifest = `${packages}${dir}/package.json`;
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as {
      name: string;
      exports?: Record<string, unknown>;
    };
    for (const [subpath, spec] of Object.entries(pkg.exports ?? {})) {
      if (typeof spec !== 'object' || spec === null) continue;
      for (const format of ['esm', 'cjs'] as const) {
        const condition = (spec as Record<string, unknown>)[format === 'esm' ? 'import' : 'require'];
        const target =
          typeof condition === 'string' ? condition : (condition as { default?: string })?.default;
        if (typeof target !== 'string') continue;
        const file = `${packages}${dir}/${target}`;
        if (existsSync(file))
          found.push({ label: `${pkg.name}${subpath.slice(1)} (${format})`, file, format });
      }
    }
  }
  return found;
}

describe('the built packages', () => {
  const list = entries();

  it('are there to check', () => {
    expect(list.length).toBeGreaterThanOrEqual(10);
  });

  it.each(list.map((entry) => [entry.label, entry] as const))(
    '%s: every exported class and function keeps its name',
    async (_label, entry) => {
      const module = (
        entry.format === 'esm' ? await import(pathToFileURL(entry.file).href) : require(entry.file)
      ) as Record<string, unknown>;
      const renamed = Object.entries(module)
        .filter(([name, value]) => typeof value === 'function' && !ALIASES.has(name))
        .filter(([name, value]) => (value as { name: string }).name !== name)
        .map(([name, value]) => `${name} is named ${(value as { name: string }).name}`);
      expect(renamed).toEqual([]);
    },
  );
});
