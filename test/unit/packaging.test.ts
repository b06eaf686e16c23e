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
let built: { path: string; code: string }[];

beforeAll(() => {
  // The list `npm pack` would pack; --ignore-scripts: the test run has built dist/ already.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  packed = new Set((JSON.parse(out) as [{ files: { path: string }[] }])[0].files.map((f) => f.path));
  built = walk('dist')
    .filter((path) => path.endsWith('.js'))
    .map((path) => ({ path, code: read(path) }));
});

describe('the npm package', () => {
  it('holds the launcher, every built module, the licence and the readme', () => {
    expect(built.length).toBeGreaterThan(10);
    for (const path of ['package.json', pkg.bin.irbot ?? 'bin/irbot', 'LICENSE', 'README.md', 'dist/cli/main.js'])
      expect(packed, path).toContain(path);
    for (const { path } of built) expect(packed, path).toContain(path);
  });

  it('holds every file of the repo that the built code names (package.json, the shipped config, the manifest)', () => {
    const tracked = new Set(execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n'));
    const named = new Set<string>();
    for (const { path, code } of built) {
      for (const [, literal = ''] of code.matchAll(
        /['"`]((?:\.{1,2}\/)*[\w.-]+(?:\/[\w.-]+)*\.(?:json|toml|ya?ml|md))['"`]/g,
      )) {
        // Relative to the module (new URL('../../package.json', import.meta.url)) or to the package's root.
        for (const candidate of [relative(ROOT, resolve(ROOT, dirname(path), literal)), normalize(literal)])
          if (tracked.has(candidate)) named.add(candidate);
      }
    }
    expect([...named].sort()).toEqual(
      expect.arrayContaining(['alerts.toml', 'config.toml', 'package.json', 'slack-app-manifest.yml']),
    );
    for (const path of named) expect(packed, path).toContain(path);
  });

  it('imports at run time only Node built-ins and its own dependencies, never a dev dependency', () => {
    const builtins = new Set(builtinModules);
    for (const { path, code } of built) {
      for (const [, spec = ''] of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"]([^'"]+)['"]/gm)) {
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);
        expect(pkg.dependencies, `${path} imports ${spec}`).toHaveProperty([name]);
      }
    }
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
  });
});
