// CommonJS packages, loaded with require(). Imported from ESM, a CommonJS package has its source, and that of each
// module it re-exports, parsed once more to find its named exports: for the Slack SDK that costs more than loading
// it (~0.1 s of CPU at every start of irbot). Types still come from `import type`. The bundle (tools/bundle.mjs)
// turns each requireCjs('name') into a require() it bundles, so the name must be a literal; and load CommonJS
// packages only this way, lazily inside a function where it pays: a dynamic import() of one, split into a chunk of
// its own, would give only its default export there.
import { createRequire } from 'node:module';

export const requireCjs = createRequire(import.meta.url);
