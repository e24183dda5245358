// Checks the examples users copy first: every `js`, `ts` and `sh` block of README.md, of each package README and
// of docs/, and every relative link of those files.
//
//   node scripts/check-examples.mjs [file.md ...] [--out dir]
//
// JavaScript and TypeScript blocks are type-checked under `strict` (JavaScript with `checkJs`) against the built
// packages, twice: as ES modules (.mjs/.mts) and as CommonJS (.cjs/.cts, imports written as `require`). Blocks
// marked `run` are run with Node and must exit 0. A block is marked by an HTML comment right before it:
//
//   <!-- example: run -->
//   <!-- example: skip: why it cannot be checked -->
//   <!-- example
//   given: const app: import('express').Express
//   run
//   -->
//
// `given` declares a name the block uses without defining it (a TypeScript declaration); a runnable block
// takes its value from test/docs/fixtures.mjs. Each failure is printed as `file:line: message`, and the exit
// code is 1 when anything failed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const docsPackage = join(root, 'test/docs');
const ts = createRequire(join(docsPackage, 'package.json'))('typescript');

const LANGS = { js: 'js', javascript: 'js', ts: 'ts', typescript: 'ts', sh: 'sh', bash: 'sh', shell: 'sh' };
const RUN_TIMEOUT_MS = 30_000;
// A CommonJS reader wraps top-level `await` in a function; those diagnostics say nothing of the packages' types.
const CJS_ONLY_FORMAT = new Set([1309, 1375, 1378, 1470]);
// JavaScript is checked as a JavaScript user's editor checks it: strict, except for the parameters and
// variables that only a type annotation could type (noImplicitAny).
const IMPLICIT_ANY = new Set([7005, 7006, 7008, 7010, 7011, 7019, 7031, 7034]);

const failures = [];
const fail = (file, line, message) => failures.push(`${relative(root, file)}:${line}: ${message}`);

function defaultFiles() {
  const files = [join(root, 'README.md')];
  for (const name of readdirSync(join(root, 'packages')).sort()) {
    const readme = join(root, 'packages', name, 'README.md');
    if (existsSync(readme)) files.push(readme);
  }
  for (const name of readdirSync(join(root, 'docs')).sort()) {
    if (name.endsWith('.md')) files.push(join(root, 'docs', name));
  }
  return files;
}

// --- Markdown ------------------------------------------------------------------------------------------------

function parseDirectives(file, line, text) {
  const directives = { run: false, skip: null, given: [] };
  const body = text.replace(/^<!--\s*example/, '').replace(/-->\s*$/, '');
  const entries = body.startsWith(':') ? [body.slice(1)] : body.split('\n');
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '') continue;
    if (entry === 'run') directives.run = true;
    else if (entry.startsWith('skip:') && entry.slice(5).trim() !== '')
      directives.skip = entry.slice(5).trim();
    else if (entry.startsWith('given:') && entry.slice(6).trim() !== '')
      directives.given.push(entry.slice(6).trim());
    else
      fail(file, line, `unknown example directive "${entry}" (run, skip: <reason> or given: <declaration>)`);
  }
  return directives;
}

/** The fenced blocks of a Markdown file, with the directives of the comment before each. */
function parseBlocks(file, text) {
  const lines = text.split('\n');
  const blocks = [];
  let pending = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trimStart().startsWith('<!-- example')) {
      let end = i;
      while (!lines[end].includes('-->') && end < lines.length - 1) end++;
      pending = {
        line: i + 1,
        directives: parseDirectives(
          file,
          i + 1,
          lines
            .slice(i, end + 1)
            .join('\n')
            .trim(),
        ),
      };
      i = end;
      continue;
    }
    const fence = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(line);
    if (fence === null) {
      if (pending !== null && line.trim() !== '') {
        fail(file, pending.line, 'an example directive must come right before a fenced block');
        pending = null;
      }
      continue;
    }
    const [, indent, marker, info] = fence;
    const start = i + 1;
    const code = [];
    for (i++; i < lines.length && !lines[i].trimStart().startsWith(marker); i++) {
      code.push(lines[i].startsWith(indent) ? lines[i].slice(indent.length) : lines[i]);
    }
    const lang = LANGS[info.toLowerCase()];
    if (lang !== undefined) {
      blocks.push({ file, line: start + 1, lang, code: code.join('\n'), marker: pending, id: 0 });
    } else if (pending !== null) {
      fail(file, pending.line, `example directives apply only to js, ts and sh blocks, not "${info}"`);
    }
    pending = null;
  }
  return blocks;
}

/** GitHub's anchors for the headings of a Markdown file. */
function anchorsOf(text) {
  const anchors = new Set();
  const seen = new Map();
  let inFence = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const base = heading[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  for (const match of text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(match[1]);
  return anchors;
}

function checkLinks(file, text) {
  const lines = text.split('\n');
  let inFence = false;
  lines.forEach((line, index) => {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    if (inFence) return;
    for (const match of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1];
      if (/^[a-z][a-z+.-]*:/i.test(target)) continue;
      const [path, anchor] = target.split('#');
      const resolved = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
      if (!existsSync(resolved)) {
        fail(file, index + 1, `the link ${target} leads nowhere`);
        continue;
      }
      if (anchor === undefined || !resolved.endsWith('.md') || statSync(resolved).isDirectory()) continue;
      if (!anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) {
        fail(file, index + 1, `the link ${target} names no heading of ${relative(root, resolved)}`);
      }
    }
  });
}

// --- sh blocks ---------------------------------------------------------------------------------------------

function knownPackages() {
  const names = new Set();
  for (const name of readdirSync(join(root, 'packages'))) {
    const manifest = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));
    names.add(manifest.name);
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const dep of Object.keys(manifest[field] ?? {})) names.add(dep);
    }
  }
  return names;
}

function checkShell(block, rootManifest, packages) {
  const syntax = spawnSync('bash', ['-n'], { input: block.code, encoding: 'utf8' });
  if (syntax.status !== 0) fail(block.file, block.line, `bash -n: ${syntax.stderr.trim()}`);
  const pnpmVersion = rootManifest.packageManager.replace(/^pnpm@/, '');
  block.code.split('\n').forEach((raw, offset) => {
    const line = raw.replace(/(^|\s)#.*$/, '');
    const at = block.line + offset;
    for (const command of line.split(/&&|\|\||;/).map((part) => part.trim().split(/\s+/))) {
      const words = command.filter((word) => word !== '-y');
      if (words[0] === 'npx' && words[1]?.startsWith('pnpm')) words.splice(0, 1);
      if (words[0]?.startsWith('pnpm')) {
        const version = words[0].split('@')[1];
        if (version !== undefined && version !== pnpmVersion) {
          fail(block.file, at, `pnpm@${version} is not the pinned packageManager pnpm@${pnpmVersion}`);
        }
        const script = words[1] === 'run' ? words[2] : words[1];
        if (script !== undefined && !['install', 'i'].includes(script) && !(script in rootManifest.scripts)) {
          fail(block.file, at, `"${script}" is not a script of the root package.json`);
        }
      } else if (words[0] === 'npm' && ['install', 'i'].includes(words[1])) {
        for (const name of words.slice(2).filter((word) => !word.startsWith('-'))) {
          if (!packages.has(name.replace(/(.)@.*$/, '$1'))) {
            fail(block.file, at, `${name} is neither a Breaker package nor one of their dependencies`);
          }
        }
      } else if (words[0] === 'node' && words[1] !== undefined && !words[1].startsWith('-')) {
        if (!existsSync(join(root, words[1]))) fail(block.file, at, `${words[1]} does not exist`);
      }
    }
  });
}

// --- js and ts blocks --------------------------------------------------------------------------------------

/** The `given: import ...` entries of a block, as one line of code. */
function givenImports(block, format) {
  const imports = (block.marker?.directives.given ?? []).filter((entry) => entry.startsWith('import '));
  const line = imports.map((entry) => (entry.endsWith(';') ? entry : `${entry};`)).join(' ');
  return format === 'cjs' && block.lang === 'js'
    ? asRequires(line.replace(/; /g, ';\n')).replace(/\n/g, ' ')
    : line;
}

function givenDeclarations(block) {
  return (block.marker?.directives.given ?? []).filter((entry) => !entry.startsWith('import '));
}

function givenNames(block) {
  return givenDeclarations(block)
    .map((declaration) => {
      const match = /^(?:const|let|var|function|class)\s+([A-Za-z_$][\w$]*)/.exec(declaration);
      if (match === null) fail(block.file, block.marker.line, `given: "${declaration}" declares no value`);
      return match?.[1];
    })
    .filter(Boolean);
}

/** ESM `import` statements as the `require` calls a CommonJS reader writes, line for line. */
function asRequires(code) {
  return code
    .replace(/^import\s+\*\s+as\s+([\w$]+)\s+from\s+('[^']+'|"[^"]+")/gm, 'const $1 = require($2)')
    .replace(/^import\s+([\w$]+)\s*,\s*(\{[^}]*\})\s+from\s+('[^']+'|"[^"]+")/gm, (_, name, names, from) => {
      return `const ${name} = require(${from}), ${names.replace(/\s+as\s+/g, ': ')} = ${name}`;
    })
    .replace(/^import\s+(\{[^}]*\})\s+from\s+('[^']+'|"[^"]+")/gm, (_, names, from) => {
      return `const ${names.replace(/\s+as\s+/g, ': ')} = require(${from})`;
    })
    .replace(/^import\s+([\w$]+)\s+from\s+('[^']+'|"[^"]+")/gm, 'const $1 = require($2)')
    .replace(/^import\s+('[^']+'|"[^"]+")/gm, 'require($1)');
}

function writeSources(blocks, out) {
  const files = [];
  for (const block of blocks) {
    const names = givenNames(block);
    const declarations = givenDeclarations(block);
    for (const format of ['esm', 'cjs']) {
      const ext = { esm: { js: 'mjs', ts: 'mts' }, cjs: { js: 'cjs', ts: 'cts' } }[format][block.lang];
      const givenExt = format === 'esm' ? 'mts' : 'cts';
      const dir = join(out, format);
      mkdirSync(dir, { recursive: true });
      let first = '';
      if (names.length > 0) {
        writeFileSync(
          join(dir, `${block.id}.given.${givenExt}`),
          declarations.map((d) => `export declare ${d};\n`).join(''),
        );
        const from = `./${block.id}.given.${format === 'esm' ? 'mjs' : 'cjs'}`;
        first +=
          format === 'cjs' && block.lang === 'js'
            ? `const { ${names.join(', ')} } = require('${from}');`
            : `import { ${names.join(', ')} } from '${from}';`;
        files.push(join(dir, `${block.id}.given.${givenExt}`));
      }
      first = `${givenImports(block, format)} ${first}`.trim();
      const code = format === 'cjs' && block.lang === 'js' ? asRequires(block.code) : block.code;
      const path = join(dir, `${block.id}.${ext}`);
      writeFileSync(path, `${first}\n${code}\n`);
      files.push(path);
      block[format] = path;
    }
  }
  return files;
}

function typeCheck(blocks, out) {
  const files = writeSources(blocks, out);
  const byPath = new Map(
    blocks.flatMap((block) => [
      [block.esm, block],
      [block.cjs, block],
    ]),
  );
  const program = ts.createProgram(files, {
    strict: true,
    allowJs: true,
    checkJs: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    moduleDetection: ts.ModuleDetectionKind.Force,
    types: ['node'],
    typeRoots: [join(docsPackage, 'node_modules/@types')],
  });
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
    const path = diagnostic.file?.fileName;
    const block = path === undefined ? undefined : byPath.get(resolve(path));
    const format = block?.cjs === resolve(path ?? '') ? 'CommonJS' : 'ES module';
    if (block === undefined) {
      const where = path === undefined ? 'the example program' : relative(root, path);
      fail(join(root, 'scripts/check-examples.mjs'), 1, `${where}: TS${diagnostic.code} ${message}`);
      continue;
    }
    if (format === 'CommonJS' && CJS_ONLY_FORMAT.has(diagnostic.code)) continue;
    if (block.lang === 'js' && IMPLICIT_ANY.has(diagnostic.code)) continue;
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    const at = line === 0 ? (block.marker?.line ?? block.line) : block.line + line - 1;
    fail(block.file, at, `TS${diagnostic.code} (${format}) ${message}`);
  }
}

function runBlock(block, out) {
  const dir = join(out, 'run');
  mkdirSync(dir, { recursive: true });
  const names = givenNames(block);
  const fixtures = relative(dir, join(docsPackage, 'fixtures.mjs'));
  const fromFixtures = names.length > 0 ? `import { ${names.join(', ')} } from './${fixtures}';` : '';
  const head = `${givenImports(block, 'esm')} ${fromFixtures}`;
  const code =
    block.lang === 'ts'
      ? ts.transpileModule(block.code, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText
      : block.code;
  const path = join(dir, `${block.id}.mjs`);
  writeFileSync(path, `${head}\n${code}\n`);
  return new Promise((done) => {
    // The Redis and PostgreSQL that this machine kind runs, unless the caller names others.
    const env = {
      ...process.env,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      DATABASE_URL:
        process.env.DATABASE_URL ?? `postgres://${process.env.PGUSER ?? 'root'}@127.0.0.1:5432/postgres`,
    };
    const child = spawn(process.execPath, [path], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        const why =
          signal === null ? `exited with ${code}` : `did not exit within ${RUN_TIMEOUT_MS / 1000} s`;
        const lines = output.trim().split('\n');
        const thrown = lines.findIndex((line) => /^\w*(Error|Exception)\b/.test(line));
        const tail = (thrown === -1 ? lines.slice(-12) : lines.slice(thrown, thrown + 6)).join('\n    ');
        fail(block.file, block.line, `the runnable example ${why}:\n    ${tail}`);
      }
      done();
    });
  });
}

// --- main --------------------------------------------------------------------------------------------------

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = resolve(outAt === -1 ? join(docsPackage, '.out/examples') : args.splice(outAt, 2)[1]);
const files = args.length > 0 ? args.map((file) => resolve(file)) : defaultFiles();
rmSync(out, { recursive: true, force: true });

const blocks = [];
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  checkLinks(file, text);
  blocks.push(...parseBlocks(file, text));
}
blocks.forEach(
  (block, index) =>
    (block.id = `${String(index).padStart(3, '0')}-${relative(root, block.file).replace(/[^\w]+/g, '-')}-${block.line}`),
);

const skipped = blocks.filter((block) => block.marker?.directives.skip != null);
const checked = blocks.filter((block) => !skipped.includes(block));
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const packages = knownPackages();
for (const block of checked.filter((b) => b.lang === 'sh')) checkShell(block, rootManifest, packages);
const code = checked.filter((block) => block.lang !== 'sh');
for (const block of code.filter((b) => b.marker?.directives.given.length && b.lang === 'sh')) {
  fail(block.file, block.marker.line, 'given applies to js and ts blocks');
}
typeCheck(code, out);
const runnable = code.filter((block) => block.marker?.directives.run);
for (const block of runnable) await runBlock(block, out);

const count = (lang) => checked.filter((block) => block.lang === lang).length;
console.log(
  `${blocks.length} examples in ${files.length} file${files.length === 1 ? '' : 's'}: ${count('js')} js and ${count('ts')} ts type-checked as ` +
    `ES modules and as CommonJS, ${runnable.length} of them run; ${count('sh')} sh checked; ${skipped.length} skipped`,
);
for (const block of skipped) {
  console.log(`  skipped ${relative(root, block.file)}:${block.line}: ${block.marker.directives.skip}`);
}
if (failures.length > 0) {
  const at = (failure) => /^(.*?):(\d+):/.exec(failure).slice(1);
  failures.sort((a, b) => {
    const [fileA, lineA] = at(a);
    const [fileB, lineB] = at(b);
    return fileA === fileB
      ? Number(lineA) - Number(lineB)
      : files.indexOf(resolve(root, fileA)) - files.indexOf(resolve(root, fileB));
  });
  console.error(
    `\n${failures.length} example problem${failures.length === 1 ? '' : 's'}:\n${failures.join('\n')}`,
  );
  process.exitCode = 1;
}
