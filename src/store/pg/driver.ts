// node-postgres, loaded on first use: commands on the lowdb store never pay for it.
import type * as Pg from 'pg';
import { requireCjs } from '../../cjs.js';

let loaded: typeof Pg | undefined;

/**
 * The `pg` module. As it loads, it asks whether it runs in a Cloudflare Worker: Node 20 has no `navigator`, so it
 * builds a fetch `Response` to find out, which loads Node's whole fetch (undici), a third of pg's load time (about
 * 30 ms of every command on PostgreSQL here). A `navigator` with Node's user agent, as Node 21 has, there only while
 * pg loads, answers it first.
 */
export function pgDriver(): typeof Pg {
  if (loaded) return loaded;
  const stand = !('navigator' in globalThis);
  if (stand) {
    Object.defineProperty(globalThis, 'navigator', {
      value: { userAgent: `Node.js/${process.versions.node.split('.')[0]}` },
      configurable: true,
    });
  }
  try {
    loaded = requireCjs('pg') as typeof Pg;
  } finally {
    if (stand) delete (globalThis as { navigator?: unknown }).navigator;
  }
  return loaded;
}
