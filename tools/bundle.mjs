// The second half of `npm run build`: esbuild bundles what tsc emitted (dist/cli/main.js and every module it imports,
// our own and our dependencies') into dist/bundle/, which bin/irbot runs. Node 20 has no compile cache, and loading
// some 340 files one by one (resolving, reading, and for each CommonJS package imported from ESM, parsing it again
// to find its exports) was a quarter of every command's start-up (measured: `irbot listen` 390 → 295 ms to
// listening at this machine's slow hours). Commands stay lazy: each dynamic import() is a chunk of its own, loaded
// when the command needs it.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
// Two folders below the package's root, as dist/cli/ is: paths built from import.meta.url (package.json, the
// shipped config.toml) resolve the same from the bundle as from the modules it was made of.
const OUT = join(DIST, 'bundle');

// Our modules load CommonJS packages through requireCjs('name') (src/cjs.ts): a plain require() for esbuild to
// bundle. A requireCjs it cannot rewrite (a name that is not a literal) would load unbundled: refuse it.
const REQUIRE_CJS = /\brequireCjs\((['"])([^'"]+)\1\)/g;

/** @type {esbuild.Plugin} */
const requireCjsAsRequire = {
  name: 'require-cjs',
  setup(build) {
    build.onLoad({ filter: /\.js$/ }, async ({ path }) => {
      if (!path.startsWith(`${DIST}/`)) return undefined;
      const code = (await readFile(path, 'utf8')).replace(
        REQUIRE_CJS,
        (_, quote, name) => `require(${quote}${name}${quote})`,
      );
      if (/\brequireCjs\(/.test(code.replace(/export const requireCjs = /, ''))) {
        return { errors: [{ text: `${path}: requireCjs() of a name that is not a string literal cannot be bundled` }] };
      }
      return { contents: code, loader: 'js', resolveDir: dirname(path) };
    });
  },
};

// Chunks are named by their content's hash: a build over an old one would leave the old chunks beside it.
await rm(OUT, { recursive: true, force: true });
// An error fails the build (the promise rejects, and Node exits 1 with esbuild's messages).
const result = await esbuild.build({
  entryPoints: [join(DIST, 'cli', 'main.js')],
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Optional native add-ons, required in a try and not installed: pg's (only if asked for: never) and ws's.
  external: ['pg-native', 'bufferutil', 'utf-8-validate'],
  // A require() left in the bundle (an external, a CommonJS package's optional one) needs a require in ESM.
  banner: {
    js: "import { createRequire as __irbotRequire } from 'node:module';\nconst require = __irbotRequire(import.meta.url);",
  },
  // Linked maps chained through tsc's: a stack trace run with --enable-source-maps still names src/*.ts.
  sourcemap: 'linked',
  plugins: [requireCjsAsRequire],
  logLevel: 'warning',
  metafile: true,
});
// What went in and what is left to Node to import, for the packaging test (outside the folder the package ships).
await writeFile(join(DIST, 'bundle.meta.json'), JSON.stringify(result.metafile));
const files = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
process.stdout.write(`bundled dist/cli/main.js into ${files.length} files in dist/bundle/\n`);
