// vitest global setup: the e2e tests run the built binary, so build it once before any test runs. A dist/ newer
// than every source (npm ci's `prepare` built it, or the last run did) is used as it is: even an incremental tsc
// takes seconds to find that nothing changed.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The newest modification time among the files the build reads. */
function newestSource(): number {
  const inputs = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'tools/bundle.mjs'].map((f) => join(root, f));
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
    );
  return Math.max(...[...inputs, ...walk(join(root, 'src'))].map((f) => statSync(f).mtimeMs));
}

const BUILD_INFO = join(root, 'dist/.tsbuildinfo');
/** What bin/irbot runs (tools/bundle.mjs). */
const BUNDLE = join(root, 'dist/bundle/main.js');

function builtAt(): number {
  try {
    return statSync(BUILD_INFO).mtimeMs;
  } catch {
    return Number.NEGATIVE_INFINITY;
  }
}

export default function setup(): void {
  if (builtAt() > newestSource() && existsSync(BUNDLE)) return;
  const run = (script: string, ...args: string[]) =>
    execFileSync(process.execPath, [resolve(root, script), ...args], { cwd: root, stdio: 'inherit' });
  // `npm run build`, step by step.
  run('node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json');
  run('tools/bundle.mjs');
  // tsc leaves its record untouched when nothing changed: mark it as checked now.
  const now = new Date();
  utimesSync(BUILD_INFO, now, now);
}
