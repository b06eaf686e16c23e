// The Duo verifier against the local Duo over HTTP: every result a step-up can come to, the push's text, the
// signature the server checks, and failures (Duo down, busy, silent, refusing the keys) never taken as approval.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalDuo } from '../../../src/sandbox/local-duo.js';
import { createDuoVerifier, type DuoVerifierOptions, pushinfoOf } from '../../../src/verify/duo.js';
import { createDuoClient } from '../../../src/verify/duo-client.js';
import { createNoneVerifier } from '../../../src/verify/none.js';
import type { PushStarted } from '../../../src/verify/port.js';

let duo: LocalDuo;

beforeAll(async () => {
  duo = await LocalDuo.start({
    users: {
      harold: 'manual',
      alice: 'approve',
      mallory: 'deny',
      frank: 'fraud',
      tim: 'timeout',
      nora: 'not_enrolled',
      pat: 'no_push_device',
      bob: 'bypass',
      lou: 'locked_out',
      dan: 'down',
    },
  });
});
afterAll(() => duo.close());
afterEach(() => {
  duo.calls.length = 0;
});

function verifier(overrides: Partial<DuoVerifierOptions> = {}) {
  return createDuoVerifier({
    integrationKey: duo.integrationKey,
    secretKey: duo.secretKey,
    baseUrl: duo.apiUrl,
    backoffMs: () => 0,
    ...overrides,
  });
}

const request = (username: string) => ({ username, alertName: 'Pivoting', alertId: 'pivot-c55fc5' });

function txidOf(started: PushStarted): string {
  if (!('txid' in started)) throw new Error(`no push: ${started.reason}`);
  return started.txid;
}

describe('the Duo verifier', () => {
  it('sends a push naming the alert, waits, and counts it approved only once the person approves', async () => {
    const duoVerifier = verifier();
    const txid = txidOf(await duoVerifier.startPush(request('harold')));
    const push = await duo.waitForPush('harold');
    expect(push.txid).toBe(txid);
    expect(push.pushinfo).toEqual({ from: 'irbot', alert: 'Pivoting', id: 'pivot-c55fc5' });
    const [preauth, auth] = duo.calls;
    expect(preauth).toMatchObject({ method: 'POST', path: '/auth/v2/preauth', params: { username: 'harold' } });
    expect(auth).toMatchObject({
      method: 'POST',
      path: '/auth/v2/auth',
      signed: true,
      params: { username: 'harold', factor: 'push', device: 'auto', async: '1' },
    });
    expect(await duoVerifier.pushStatus(txid)).toEqual({ result: 'waiting' });
    // The next poll (held open, as Duo's long poll is) answers once the phone does.
    const status = duoVerifier.pushStatus(txid);
    await duo.waitForCall((c) => c.path === '/auth/v2/auth_status' && c.response.stat === 'OK');
    duo.answer('harold', 'approve');
    expect(await status).toEqual({ result: 'approved', reason: 'the person approved the Duo push' });
  });

  it.each([
    ['alice', { result: 'approved', reason: 'the person approved the Duo push' }],
    ['mallory', { result: 'denied', reason: 'the person denied the Duo push' }],
    ['frank', { result: 'fraud', reason: 'the person reported the Duo push as fraud' }],
    ['tim', { result: 'timeout', reason: 'the Duo push timed out unanswered' }],
  ])('maps what %s does with the push', async (username, expected) => {
    const duoVerifier = verifier();
    expect(await duoVerifier.pushStatus(txidOf(await duoVerifier.startPush(request(username))))).toEqual(expected);
  });

  it.each([
    ['nora', 'not_enrolled', 'nora is not enrolled in Duo'],
    ['nobody', 'not_enrolled', 'nobody is not enrolled in Duo'],
    ['pat', 'not_enrolled', 'pat has no device that takes Duo Push'],
    ['bob', 'error', 'Duo lets bob in without a second factor (bypass), so no push was sent'],
    ['lou', 'error', 'Duo refuses to authenticate lou: Your account is disabled.'],
  ])('sends no push to %s: %s', async (username, result, reason) => {
    const started = await verifier().startPush(request(username));
    expect(started).toMatchObject({ result });
    expect('reason' in started && started.reason).toContain(reason);
    expect(duo.callsTo('/auth/v2/auth')).toEqual([]);
  });

  it('never takes a transaction Duo allowed without the person (status bypass) as approval', async () => {
    const client = createDuoClient({
      integrationKey: duo.integrationKey,
      secretKey: duo.secretKey,
      baseUrl: duo.apiUrl,
    });
    const auth = await client.call(
      'POST',
      '/auth/v2/auth',
      { username: 'bob', factor: 'push', device: 'auto', async: '1' },
      { idempotent: false },
    );
    const txid = auth.ok ? String(auth.response.txid) : '';
    expect(await verifier().pushStatus(txid)).toEqual({
      result: 'error',
      reason: 'Duo allowed without an approved push (status bypass); not taken as approval',
    });
  });

  it('retries a Duo that is down, then gives up with the HTTP status and Duo’s code in the reason', async () => {
    const started = await verifier({ tries: 2 }).startPush(request('dan'));
    expect(started).toEqual({
      result: 'error',
      reason:
        'Duo could not be asked about dan: /auth/v2/preauth: Duo answered HTTP 500: Internal Server Error after 2 tries',
    });
    expect(duo.callsTo('/auth/v2/preauth')).toHaveLength(2);
    duo.setUser('dina', 'manual');
    const txid = txidOf(await verifier().startPush(request('dina')));
    duo.setUser('dina', 'down');
    expect(await verifier().pushStatus(txid)).toEqual({
      result: 'error',
      reason:
        'Duo could not say what came of the push: /auth/v2/auth_status: Duo answered HTTP 500: Internal Server Error after 3 tries',
    });
    duo.failNext('/auth/v2/preauth', { status: 429, code: 42901, message: 'Too Many Requests' }, 3);
    const busy = await verifier({ tries: 3 }).startPush(request('alice'));
    expect(busy).toMatchObject({ result: 'error' });
    expect('reason' in busy && busy.reason).toContain('HTTP 429, Duo error 42901: Too Many Requests after 3 tries');
  });

  it('succeeds when a retry does', async () => {
    duo.failNext('/auth/v2/preauth', { status: 503 });
    duo.failNext('/auth/v2/auth_status', { status: 502 });
    const duoVerifier = verifier();
    const txid = txidOf(await duoVerifier.startPush(request('alice')));
    expect(duo.callsTo('/auth/v2/preauth').map((c) => c.status)).toEqual([503, 200]);
    expect(await duoVerifier.pushStatus(txid)).toMatchObject({ result: 'approved' });
  });

  it('never sends a push twice: a failed auth call is not retried once it may have reached Duo', async () => {
    duo.failNext('/auth/v2/auth', { status: 500, code: 50000, message: 'Internal server error' });
    const started = await verifier().startPush(request('alice'));
    expect(started).toMatchObject({ result: 'error' });
    expect('reason' in started && started.reason).toContain('HTTP 500, Duo error 50000');
    expect(duo.callsTo('/auth/v2/auth')).toHaveLength(1);
  });

  // Timeouts are tested on calls the local Duo holds without ever answering, so that no load makes them pass.
  it('tries a read Duo never answers again, then gives up with the timeout in the reason', async () => {
    duo.failNext('/auth/v2/preauth', { hang: true }, 2);
    const started = await verifier({ timeoutMs: 50, tries: 2 }).startPush(request('alice'));
    expect(started).toEqual({
      result: 'error',
      reason: `Duo could not be asked about alice: /auth/v2/preauth: no answer from Duo at ${duo.apiUrl} within 0.05 s after 2 tries`,
    });
    expect(duo.callsTo('/auth/v2/preauth').map((c) => c.status)).toEqual([0, 0]);
  });

  it('never sends a push again after it went unanswered: it may have reached the phone', async () => {
    // One hang: a second try would be answered, and recorded.
    duo.failNext('/auth/v2/auth', { hang: true });
    const client = createDuoClient({
      integrationKey: duo.integrationKey,
      secretKey: duo.secretKey,
      baseUrl: duo.apiUrl,
      timeoutMs: 50,
      backoffMs: () => 0,
    });
    const params = { username: 'alice', factor: 'push', device: 'auto', async: '1' };
    expect(await client.call('POST', '/auth/v2/auth', params, { idempotent: false })).toMatchObject({
      ok: false,
      timedOut: true,
    });
    expect(duo.callsTo('/auth/v2/auth')).toHaveLength(1);
  });

  it('counts a long poll that runs out as still waiting', async () => {
    duo.setUser('hana', 'manual');
    const txid = txidOf(await verifier().startPush(request('hana')));
    duo.failNext('/auth/v2/auth_status', { hang: true });
    expect(await verifier({ longPollMs: 50 }).pushStatus(txid)).toEqual({ result: 'waiting' });
  });

  it('refuses keys Duo does not accept, with Duo’s code, and never names the secret', async () => {
    const wrongSecret = await verifier({ secretKey: 'not-the-secret' }).startPush(request('alice'));
    expect(wrongSecret).toMatchObject({ result: 'error' });
    const reason = 'reason' in wrongSecret ? wrongSecret.reason : '';
    expect(reason).toContain('HTTP 401, Duo error 40103: Invalid signature in request credentials');
    expect(reason).not.toContain('not-the-secret');
    expect(duo.calls).toHaveLength(1); // a 401 is not retried
    expect(duo.calls[0]?.signed).toBe(false);
    const wrongKey = await verifier({ integrationKey: 'DIWRONG' }).startPush(request('alice'));
    expect('reason' in wrongKey && wrongKey.reason).toContain('Duo error 40102');
  });

  it('checks the keys with /auth/v2/check', async () => {
    expect(await verifier().check()).toMatchObject({ ok: true });
    expect(await verifier({ secretKey: 'wrong' }).check()).toMatchObject({ ok: false, status: 401, code: 40103 });
  });

  it('reports an unknown transaction as an error', async () => {
    const status = await verifier().pushStatus('no-such-txid');
    expect(status).toMatchObject({ result: 'error' });
    expect('reason' in status && status.reason).toContain(
      'HTTP 400, Duo error 40002: Invalid request parameters (txid)',
    );
  });
});

describe('a Duo that cannot be reached', () => {
  it('is tried again, then an error naming the failure', async () => {
    const gone = await LocalDuo.start();
    const baseUrl = gone.apiUrl;
    await gone.close();
    const started = await verifier({ baseUrl }).startPush(request('alice'));
    expect(started).toEqual({
      result: 'error',
      reason: `Duo could not be asked about alice: /auth/v2/preauth: cannot reach Duo at ${baseUrl} (ECONNREFUSED) after 3 tries`,
    });
  });
});

describe('a Duo that answers with a redirect', () => {
  it('reports it, and never sends the signed request on to where it points', async () => {
    const elsewhere: string[] = [];
    const target = createServer((req, res) => {
      elsewhere.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.end('{"stat":"OK","response":{"result":"auth"}}');
    });
    const redirecting = createServer((req, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${(target.address() as AddressInfo).port}${req.url}` });
      res.end();
    });
    for (const server of [target, redirecting]) await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const baseUrl = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`;
      const started = await verifier({ baseUrl }).startPush(request('alice'));
      expect(started).toEqual({
        result: 'error',
        reason: 'Duo could not be asked about alice: /auth/v2/preauth: Duo answered HTTP 307',
      });
      expect(elsewhere).toEqual([]);
    } finally {
      for (const server of [target, redirecting]) server.close();
    }
  });
});

describe('pushinfoOf', () => {
  it('URL-encodes the alert’s name and id for the phone, bounded and on one line', () => {
    expect(pushinfoOf({ alertName: 'Pivoting', alertId: 'pivot-c55fc5' })).toBe(
      'from=irbot&alert=Pivoting&id=pivot-c55fc5',
    );
    const odd = pushinfoOf({ alertName: `a&b=c\n${'x'.repeat(300)}\uD800`, alertId: 'id 1' });
    const pairs = Object.fromEntries(new URLSearchParams(odd));
    expect(pairs.alert?.startsWith('a&b=c x')).toBe(true);
    expect(pairs.alert).toHaveLength(120);
    expect(pairs.id).toBe('id 1');
  });
});

describe('the none verifier', () => {
  it('sends nothing and says step-up is off', async () => {
    const none = createNoneVerifier();
    expect(none.provider).toBe('none');
    expect(await none.startPush(request('harold'))).toMatchObject({
      result: 'error',
      reason: expect.stringContaining('step-up is off'),
    });
    expect(await none.pushStatus('x')).toMatchObject({ result: 'error' });
  });
});
