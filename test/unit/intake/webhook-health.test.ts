// The webhook when irbot cannot work for now (its store cannot be read): 503 with Retry-After, for /healthz and
// for alerts, so that a load balancer and a retrying source both wait instead of counting on a 500.
import { describe, expect, it } from 'vitest';
import { parseAlertBatch } from '../../../src/config/alerts.js';
import { ConfigError } from '../../../src/config/errors.js';
import { RECORD_TROUBLE_MS, startWebhook } from '../../../src/intake/webhook.js';
import { fakeClock, testApp } from '../../support/memory-ports.js';

const TOKEN = 'test-webhook-token-0123456789';

describe('a store that cannot be read', () => {
  it('makes /healthz and POST /alerts answer 503 with Retry-After, and 200/202 again once it can', async () => {
    const { app, store } = testApp();
    let broken = true;
    const transact = store.transact.bind(store);
    store.transact = (change) =>
      broken ? Promise.reject(new ConfigError('Store file db.json is not valid JSON')) : transact(change);
    const logs: string[] = [];
    const webhook = await startWebhook(app, (body) => parseAlertBatch('json', body, 'request body'), {
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      log: (line) => logs.push(line),
      health: async () => (broken ? 'store unreadable' : undefined),
    });
    const alert = () =>
      fetch(`${webhook.address.url}/alerts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD' }),
      });
    try {
      const health = await fetch(`${webhook.address.url}/healthz`);
      expect(health.status).toBe(503);
      expect(health.headers.get('retry-after')).toBe('5');
      expect(await health.json()).toEqual({ ok: false, error: 'store unreadable' });
      const refused = await alert();
      expect(refused.status).toBe(503);
      expect(await refused.json()).toEqual({ error: 'store unreadable' });
      expect(logs.some((l) => /^webhook POST \/alerts 503 .*Store file db\.json is not valid JSON/.test(l))).toBe(true);

      broken = false;
      expect((await fetch(`${webhook.address.url}/healthz`)).status).toBe(200);
      expect((await alert()).status).toBe(202);
    } finally {
      await webhook.close();
    }
  });

  it('a store that reads but cannot be written (a full disk): 503 with Retry-After, and /healthz says so for a while', async () => {
    const { app, store } = testApp();
    const clock = fakeClock('2026-12-05T10:00:00.000Z');
    const transact = store.transact.bind(store);
    let full = true;
    store.transact = (change) =>
      full
        ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))
        : transact(change);
    const logs: string[] = [];
    const webhook = await startWebhook(app, (body) => parseAlertBatch('json', body, 'request body'), {
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      log: (line, fields) => logs.push(`${line} ${JSON.stringify(fields)}`),
      // As listen wires it: a read of the store, which finds nothing wrong.
      health: async () => {
        await store.read();
        return undefined;
      },
      clock: clock.now,
    });
    const alert = () =>
      fetch(`${webhook.address.url}/alerts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'pivot', name: 'Pivoting', user_id: 'U0HAROLD', dedupe_key: 'siem-1' }),
      });
    try {
      const refused = await alert();
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      const why = 'alerts could not be recorded: ENOSPC: no space left on device, write';
      expect(await refused.json()).toEqual({ error: why });
      expect(store.data().alerts).toEqual({});
      // The log line carries the status, as every other answer's does.
      expect(logs.find((l) => l.startsWith('webhook POST /alerts 503'))).toContain('"status":503');
      const health = await fetch(`${webhook.address.url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({ ok: false, error: why });
      // Not for ever: a load balancer that believed it would send nothing to find the trouble over.
      clock.advance(RECORD_TROUBLE_MS);
      expect((await fetch(`${webhook.address.url}/healthz`)).status).toBe(200);
      full = false;
      expect((await alert()).status).toBe(202);
    } finally {
      await webhook.close();
    }
  });
});
