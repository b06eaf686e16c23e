// What `npm pack` ships, so that `npm install -g` of the tarball runs: everything the built CLI imports or reads,
// no dev dependency at run time, and the service files pointing where the command is installed.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
};
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** Every file under a folder of the repo, as paths from the repo's root. */
function walk(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

let packed: Set<string>;
/** What tsc emitted from src/: our own modules, each as the bundle holds it. */
let ours: { path: string; code: string }[];
/** What bin/irbot runs: the bundle of ours and of our dependencies (tools/bundle.mjs). */
let bundle: string[];
/** esbuild's account of the bundle: every input it read, and each output's imports left to Node. */
let meta: {
  inputs: Record<string, unknown>;
  outputs: Record<string, { imports: { path: string; kind: string; external?: boolean }[] }>;
};
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { dev?: boolean }> };

beforeAll(() => {
  // The list `npm pack` would pack; --ignore-scripts: the test run has built dist/ already.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  packed = new Set((JSON.parse(out) as [{ files: { path: string }[] }])[0].files.map((f) => f.path));
  ours = walk('dist')
    .filter((path) => path.endsWith('.js') && !path.startsWith('dist/bundle/'))
    .map((path) => ({ path, code: read(path) }));
  bundle = walk('dist/bundle');
  meta = JSON.parse(read('dist/bundle.meta.json')) as typeof meta;
});

describe('the npm package', () => {
  it('holds the launcher, the whole bundle, the licence and the readme, and nothing else built', () => {
    expect(bundle.length).toBeGreaterThan(10);
    for (const path of ['package.json', pkg.bin.irbot ?? 'bin/irbot', 'LICENSE', 'README.md', 'dist/bundle/main.js'])
      expect(packed, path).toContain(path);
    for (const path of bundle) expect(packed, path).toContain(path);
    // tsc's output is the bundle's input: shipped, it would be a second copy nothing runs.
    expect([...packed].filter((path) => path.startsWith('dist/') && !path.startsWith('dist/bundle/'))).toEqual([]);
  });

  it('holds every file of the repo that the built code names (package.json, the shipped config, the manifest)', () => {
    const tracked = new Set(execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n'));
    const named = new Set<string>();
    for (const { path, code } of ours) {
      for (const [, literal = ''] of code.matchAll(
        /['"`]((?:\.{1,2}\/)*[\w.-]+(?:\/[\w.-]+)*\.(?:json|toml|ya?ml|md))['"`]/g,
      )) {
        // Relative to the module (new URL('../../package.json', import.meta.url)), which the bundle, two folders
        // down as dist/cli/ is, resolves the same; or relative to the package's root.
        for (const candidate of [relative(ROOT, resolve(ROOT, dirname(path), literal)), normalize(literal)])
          if (tracked.has(candidate)) named.add(candidate);
      }
    }
    expect([...named].sort()).toEqual(
      expect.arrayContaining(['alerts.toml', 'config.toml', 'package.json', 'slack-app-manifest.yml']),
    );
    for (const path of named) expect(packed, path).toContain(path);
  });

  it('bundles only its own modules and its dependencies, never a dev dependency, and leaves only Node to import', () => {
    const inputs = Object.keys(meta.inputs);
    expect(inputs).toContain('dist/cli/main.js');
    for (const input of inputs) {
      const at = input.lastIndexOf('node_modules/');
      if (at < 0) {
        expect(input, 'our own module').toMatch(/^dist\//);
        continue;
      }
      const rest = input.slice(at + 'node_modules/'.length).split('/');
      const name = rest[0]?.startsWith('@') ? rest.slice(0, 2).join('/') : (rest[0] ?? '');
      const locked = lock.packages[`${input.slice(0, at)}node_modules/${name}`];
      expect(locked, `${input}: not in package-lock.json`).toBeDefined();
      expect(locked?.dev, `${input} is a dev dependency`).not.toBe(true);
    }
    const builtins = new Set(builtinModules);
    for (const [output, { imports }] of Object.entries(meta.outputs)) {
      for (const { path: spec, external } of imports) {
        if (!external || spec.startsWith('node:') || builtins.has(spec)) continue;
        // Optional native add-ons, required in a try: pg's (only if asked for, never) and ws's (the local Slack's).
        expect(['pg-native', 'bufferutil', 'utf-8-validate'], `${output} leaves ${spec} to Node`).toContain(spec);
      }
    }
  });

  it('maps the bundle back to src/*.ts, with the TypeScript inside, for --enable-source-maps', () => {
    const chunks = bundle.filter((path) => path.endsWith('.js'));
    for (const chunk of chunks) expect(read(chunk), chunk).toMatch(/\n\/\/# sourceMappingURL=[\w.-]+\.js\.map\n?$/);
    const map = JSON.parse(read('dist/bundle/main.js.map')) as { sources: string[]; sourcesContent: string[] };
    const main = map.sources.indexOf('../../src/cli/main.ts');
    expect(main, map.sources.join(', ')).toBeGreaterThanOrEqual(0);
    expect(map.sourcesContent[main]).toContain('export async function main(');
  });

  it('has a LICENSE file matching package.json', () => {
    expect(pkg.license).toBe('MIT');
    expect(read('LICENSE')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the irbot authors\n/);
  });

  it('is run by the systemd unit and the container from where `npm install -g --prefix /usr/local` puts it', () => {
    const command = `/usr/local/bin/${Object.keys(pkg.bin)[0]}`;
    const unit = read('deploy/irbot.service');
    expect(unit).toMatch(/^# +npm pack && sudo npm install -g --prefix \/usr\/local \.\/irbot-\*\.tgz/m);
    expect(unit).toMatch(new RegExp(`^ExecStart=${command} listen$`, 'm'));
    const image = read('deploy/Containerfile');
    expect(image).toContain(`ln -s ../lib/node_modules/irbot/${pkg.bin.irbot} ${command}`);
    expect(image).toContain(`ENTRYPOINT ["${command}"]`);
    // The image builds the package itself: tsc, then the bundle.
    for (const input of ['src', 'tools']) expect(image).toMatch(new RegExp(`^COPY ${input} \\./${input}$`, 'm'));
  });
});
