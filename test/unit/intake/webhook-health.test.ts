// The webhook when irbot cannot work for now (its store cannot be read): 503 with Retry-After, for /healthz and
// for alerts, so that a load balancer and a retrying source both wait instead of counting on a 500.
import { describe, expect, it } from 'vitest';
import { parseAlertBatch } from '../../../src/config/alerts.js';
import { ConfigError } from '../../../src/config/errors.js';
import { startWebhook } from '../../../src/intake/webhook.js';
import { testApp } from '../../support/memory-ports.js';

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
});
