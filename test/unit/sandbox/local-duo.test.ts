// The local Duo itself: Duo's 401s for unsigned or wrongly signed requests, the unsigned ping, and the hooks the
// sandbox and the tests drive it by (a push event, answer, waitForPush).
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DuoPush, LocalDuo, phoneText } from '../../../src/sandbox/local-duo.js';
import { createDuoClient } from '../../../src/verify/duo-client.js';

let duo: LocalDuo;
beforeAll(async () => {
  duo = await LocalDuo.start({ users: { harold: 'manual' } });
});
afterAll(() => duo.close());

describe('LocalDuo', () => {
  it('answers an unsigned request 401 in Duo’s shape, and the ping without a signature', async () => {
    const unsigned = await request(`${duo.apiUrl}/auth/v2/check`);
    expect(unsigned.statusCode).toBe(401);
    expect(await unsigned.body.json()).toEqual({ stat: 'FAIL', code: 40101, message: 'Missing request credentials' });
    const ping = await request(`${duo.apiUrl}/auth/v2/ping`);
    expect(ping.statusCode).toBe(200);
    expect(await ping.body.json()).toMatchObject({ stat: 'OK', response: { time: expect.any(Number) } });
  });

  it('tells the sandbox of each push and lets it answer, once', async () => {
    const seen: DuoPush[] = [];
    duo.on('push', (push) => seen.push(push));
    expect(() => duo.answer('harold', 'approve')).toThrow('harold has no push waiting');
    const client = createDuoClient({
      integrationKey: duo.integrationKey,
      secretKey: duo.secretKey,
      baseUrl: duo.apiUrl,
    });
    const waiting = duo.waitForPush('harold');
    await client.call(
      'POST',
      '/auth/v2/auth',
      { username: 'harold', factor: 'push', device: 'auto', async: '1', pushinfo: 'from=irbot&alert=Pivoting' },
      { idempotent: false },
    );
    const push = await waiting;
    expect(seen).toEqual([push]);
    expect(push).toMatchObject({ username: 'harold', answer: null, pushinfo: { from: 'irbot', alert: 'Pivoting' } });
    expect(phoneText(push)).toBe('irbot: Pivoting');
    expect(phoneText({ pushinfo: { from: 'irbot', alert: 'Pivoting', id: 'pivot-c55fc5' } })).toBe(
      'irbot: Pivoting, alert pivot-c55fc5',
    );
    expect(duo.answer('harold', 'deny')).toMatchObject({ txid: push.txid, answer: 'deny' });
    expect(() => duo.answer('harold', 'approve')).toThrow('no push waiting');
    await expect(duo.waitForPush('harold', 1)).rejects.toThrow('LocalDuo: no push waiting for harold within 1 ms');
  });
});
