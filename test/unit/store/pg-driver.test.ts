// node-postgres loads without Node's fetch: in a fresh Node (as every irbot command on PostgreSQL starts), its check
// for a Cloudflare Worker must not build a fetch Response, which loads undici (src/store/pg/driver.ts).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DRIVER = fileURLToPath(new URL('../../../dist/store/pg/driver.js', import.meta.url));

describe('the pg driver', () => {
  it('loads pg in a fresh Node without loading its fetch, and leaves no navigator behind', () => {
    const script = `
      const { pgDriver } = await import(${JSON.stringify(DRIVER)});
      const pg = pgDriver();
      console.log(JSON.stringify({
        client: typeof pg.Client,
        undici: process.moduleLoadList.some((name) => name.includes('undici')),
        navigator: 'navigator' in globalThis,
      }));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ client: 'function', undici: false, navigator: false });
  });
});
