// The PagerDuty transport against the local Events API v2: the page it builds, what each answer comes to, dedup.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newChat } from '../../../src/chat/engine.js';
import { isRoutingKeyShape, readEnv, routingKeyProblem } from '../../../src/config/env.js';
import { createPagerDutyTransport, pagerDutyBody } from '../../../src/deliver/pagerduty.js';
import type { Delivery } from '../../../src/deliver/port.js';
import { escalationOf } from '../../../src/escalation/decide.js';
import {
  describeEvent,
  eventErrors,
  type LocalPagerDuty,
  startLocalPagerDuty,
} from '../../../src/sandbox/local-pagerduty.js';
import type { AlertRecord } from '../../../src/store/port.js';

const KEY = 'R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12';
const at = '2026-12-04T10:00:00.000Z';

function anAlert(overrides: Partial<AlertRecord> = {}): AlertRecord {
  return {
    id: 'pivot-c55fc5',
    template: 'pivot',
    name: 'Pivoting',
    description: 'SSH pivot from laptop-harold to db-prod-3',
    userId: 'U0HAROLD',
    personName: 'Harold',
    properties: { host: 'laptop-harold' },
    channelId: 'C0FEED',
    ts: '1.000100',
    createdAt: at,
    lastActivityAt: at,
    chat: { ...newChat(), state: 'ended', outcome: 'answered', aware: true, verified: 'denied', endedAt: at },
    transcript: [
      { from: 'bot', text: 'Hi Harold, was that you?', at },
      { from: 'person', text: 'yes, I was migrating the host', at },
    ],
    outbox: [],
    nextSeq: 1,
    ...overrides,
  };
}

function pageOf(alert: AlertRecord): Delivery {
  const escalation = escalationOf(alert, ['not_aware', 'denied', 'unverified']);
  if (!escalation) throw new Error('no escalation');
  return {
    key: `${alert.id}:escalated`,
    target: 'pagerduty',
    event: 'escalated',
    body: pagerDutyBody(alert, escalation),
    at,
    attempts: 0,
  };
}

let pd: LocalPagerDuty;
beforeEach(async () => {
  pd = await startLocalPagerDuty({ routingKey: KEY });
});
afterEach(async () => {
  await pd.close();
});

const transport = (routingKey = KEY) => createPagerDutyTransport({ routingKey, apiUrl: pd.url, timeoutMs: 5000 });

describe('pagerDutyBody', () => {
  it('is a trigger keyed by the alert id, with the summary, source, severity and details, and no routing key', () => {
    const body = JSON.parse(pageOf(anAlert()).body);
    expect(body).not.toHaveProperty('routing_key');
    expect(body).toMatchObject({
      event_action: 'trigger',
      dedup_key: 'pivot-c55fc5',
      payload: {
        summary: 'irbot: Harold denied the Duo push for Pivoting',
        source: 'irbot',
        severity: 'critical',
        custom_details: {
          alert: { id: 'pivot-c55fc5', name: 'Pivoting', user_id: 'U0HAROLD', properties: { host: 'laptop-harold' } },
          verdict: { escalation: 'denied', aware: true, verified: 'denied', outcome: 'answered' },
          transcript: [
            { from: 'bot', text: 'Hi Harold, was that you?', at },
            { from: 'person', text: 'yes, I was migrating the host', at },
          ],
        },
      },
    });
    expect(eventErrors({ ...body, routing_key: KEY })).toEqual([]);
  });

  it('keeps a short transcript and cuts long texts', () => {
    const transcript = Array.from({ length: 40 }, (_, i) => ({
      from: 'person' as const,
      text: `${i}`.repeat(900),
      at,
    }));
    const body = JSON.parse(pageOf(anAlert({ transcript, name: 'P'.repeat(2000) })).body);
    expect(body.payload.summary.length).toBe(1024);
    expect(body.payload.custom_details.transcript).toHaveLength(12);
    expect(body.payload.custom_details.transcript[0].text.length).toBe(500);
  });

  it('takes the alert’s own severity', () => {
    const alert = anAlert({ severity: 'warning' });
    expect(JSON.parse(pageOf(alert).body).payload.severity).toBe('warning');
  });
});

describe('createPagerDutyTransport', () => {
  it('adds the routing key at send time: 202 is delivered, and one incident is opened', async () => {
    expect(await transport().send(pageOf(anAlert()))).toEqual({ ok: true, status: 202 });
    expect(pd.events()).toHaveLength(1);
    expect(pd.events()[0]).toMatchObject({ routing_key: KEY, dedup_key: 'pivot-c55fc5' });
    expect(pd.incidents()).toHaveLength(1);
  });

  it('opens no second incident when a retry follows an answer lost after PagerDuty acted', async () => {
    pd.failNext(500, 1, { processed: true });
    expect(await transport().send(pageOf(anAlert()))).toMatchObject({ ok: false, retry: true });
    expect(await transport().send(pageOf(anAlert()))).toEqual({ ok: true, status: 202 });
    expect(pd.requests.map((r) => r.status)).toEqual([500, 202]);
    expect(pd.incidents()).toHaveLength(1);
    expect(pd.incidents()[0]?.events).toHaveLength(2);
  });

  it('pages once for an alert sent again (dedup_key), and once more for another alert', async () => {
    const send = transport();
    await send.send(pageOf(anAlert()));
    await send.send(pageOf(anAlert()));
    await send.send(pageOf(anAlert({ id: 'pivot-0a0a0a' })));
    expect(pd.events()).toHaveLength(3);
    expect(pd.incidents().map((i) => [i.dedupKey, i.events.length])).toEqual([
      ['pivot-c55fc5', 2],
      ['pivot-0a0a0a', 1],
    ]);
  });

  it('retries a 429 with its Retry-After, and a 500, 502 and 408', async () => {
    pd.failNext(429, 1, { headers: { 'retry-after': '3' } });
    expect(await transport().send(pageOf(anAlert()))).toEqual({
      ok: false,
      retry: true,
      reason: 'PagerDuty answered 429 (throttle event: Requests for this service are arriving too quickly)',
      retryAfterMs: 3000,
    });
    for (const status of [500, 502, 408]) {
      pd.failNext(status);
      expect(await transport().send(pageOf(anAlert()))).toMatchObject({ ok: false, retry: true });
    }
    expect(pd.incidents()).toHaveLength(0);
  });

  it('refuses for good on a 400, with PagerDuty’s errors and never the key', async () => {
    const wrong = 'WR0NGKEYWR0NGKEYWR0NGKEYWR0NGKEY';
    const result = await transport(wrong).send(pageOf(anAlert()));
    expect(result).toEqual({
      ok: false,
      retry: false,
      reason: 'PagerDuty answered 400 (invalid event: Event object is invalid: Invalid routing key)',
    });
    const short = await transport('short').send(pageOf(anAlert()));
    expect(short).toMatchObject({ ok: false, retry: false });
    expect(JSON.stringify(short)).toContain("Length of 'routing_key' is incorrect");
    expect(JSON.stringify([result, short])).not.toContain(wrong);
  });

  it('retries when PagerDuty cannot be reached', async () => {
    const url = pd.url;
    await pd.close();
    const result = await createPagerDutyTransport({ routingKey: KEY, apiUrl: url }).send(pageOf(anAlert()));
    expect(result).toMatchObject({ ok: false, retry: true, reason: 'PagerDuty unreachable: ECONNREFUSED' });
    pd = await startLocalPagerDuty();
  });

  it('follows no redirect (the body carries the routing key; a 202 from elsewhere is no page)', async () => {
    const elsewhere: string[] = [];
    const other = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        elsewhere.push(body);
        res.writeHead(202).end('{}');
      });
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}/collect`;
    const redirecting = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(307, { location: otherUrl }).end());
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      const apiUrl = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`;
      const result = await createPagerDutyTransport({ routingKey: KEY, apiUrl }).send(pageOf(anAlert()));
      expect(result).toEqual({
        ok: false,
        retry: false,
        reason: 'PagerDuty answered 307, a redirect, not followed (check PAGERDUTY_API_URL)',
      });
      expect(elsewhere).toEqual([]);
    } finally {
      await Promise.all([other, redirecting].map((s) => new Promise((resolve) => s.close(resolve))));
    }
  });

  it('hides the routing key before cutting what the answer says: a key echoed across the cut is not left in part', async () => {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        const echoed = (JSON.parse(body) as { routing_key: string }).routing_key;
        const message = `${'x'.repeat(255)} bad routing_key ${echoed}`;
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'invalid', message }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const result = await createPagerDutyTransport({ routingKey: KEY, apiUrl }).send(pageOf(anAlert()));
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).not.toContain(KEY.slice(0, 12));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('never says what the URL holds when fetch refuses it (a password in PAGERDUTY_API_URL)', async () => {
    const url = new URL(pd.url);
    url.username = 'irbot';
    url.password = 'Hunter2-pd-pass';
    const result = await createPagerDutyTransport({ routingKey: KEY, apiUrl: url.href }).send(pageOf(anAlert()));
    expect(result).toEqual({ ok: false, retry: true, reason: 'PagerDuty unreachable: TypeError' });
  });
});

describe('the local PagerDuty', () => {
  it('refuses events as PagerDuty does, naming each field', () => {
    expect(
      eventErrors({ routing_key: KEY, event_action: 'trigger', payload: { source: 's', severity: 'high' } }),
    ).toEqual([
      "'payload.summary' is missing or blank",
      "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')",
    ]);
    expect(eventErrors({ event_action: 'page' })).toEqual([
      "'routing_key' is missing or blank",
      "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')",
      "'dedup_key' is missing or blank",
    ]);
    expect(eventErrors({ routing_key: KEY, event_action: 'trigger' })).toEqual(["'payload' is missing or blank"]);
    expect(eventErrors({ routing_key: `${'x'.repeat(31)}!`, event_action: 'resolve', dedup_key: 'd' })).toEqual([
      "'routing_key' is invalid",
    ]);
  });

  it('answers 400 with its error JSON for a body that is not JSON, and 404 elsewhere', async () => {
    const bad = await fetch(`${pd.url}/v2/enqueue`, { method: 'POST', body: '{' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      status: 'invalid event',
      message: 'Event object is invalid',
      errors: ['Invalid JSON'],
    });
    expect((await fetch(`${pd.url}/v1/enqueue`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('tells of each event it accepts, in words for the sandbox', async () => {
    const seen: string[] = [];
    const local = await startLocalPagerDuty({ onEvent: (event, _, opened) => seen.push(describeEvent(event, opened)) });
    try {
      const send = createPagerDutyTransport({ routingKey: KEY, apiUrl: local.url });
      await send.send(pageOf(anAlert()));
      await send.send(pageOf(anAlert()));
    } finally {
      await local.close();
    }
    expect(seen).toEqual([
      'incident opened (critical): irbot: Harold denied the Duo push for Pivoting',
      'added to the open incident pivot-c55fc5, no new page: irbot: Harold denied the Duo push for Pivoting',
    ]);
  });

  it('opens a new incident for a dedup_key once the last one is resolved', async () => {
    const post = (body: object) =>
      fetch(`${pd.url}/v2/enqueue`, {
        method: 'POST',
        body: JSON.stringify({ routing_key: KEY, dedup_key: 'd', ...body }),
      });
    const trigger = { event_action: 'trigger', payload: { summary: 's', source: 'irbot', severity: 'info' } };
    await post(trigger);
    await post({ event_action: 'resolve' });
    await post(trigger);
    expect(pd.incidents().map((i) => i.status)).toEqual(['resolved', 'triggered']);
  });
});

describe('the routing key’s shape', () => {
  it('takes 32 letters and digits only', () => {
    expect(isRoutingKeyShape(KEY)).toBe(true);
    expect(isRoutingKeyShape(KEY.slice(1))).toBe(false);
    expect(isRoutingKeyShape(`${KEY.slice(1)}-`)).toBe(false);
  });

  it('names the variable and the fix, never the value', () => {
    expect(routingKeyProblem(readEnv({}))).toBeUndefined();
    expect(routingKeyProblem(readEnv({ PAGERDUTY_ROUTING_KEY: KEY }))).toBeUndefined();
    const problem = routingKeyProblem(readEnv({ PAGERDUTY_ROUTING_KEY: 'sekrit-key' }));
    expect(problem).toBe(
      'PAGERDUTY_ROUTING_KEY is not a PagerDuty routing key: it should be 32 letters and digits (the Integration Key of an Events API v2 integration, under the service’s Integrations tab)',
    );
    expect(problem).not.toContain('sekrit');
  });

  it('reads PAGERDUTY_API_URL as an http(s) URL', () => {
    expect(readEnv({ PAGERDUTY_API_URL: 'http://127.0.0.1:9' }).pagerdutyApiUrl).toBe('http://127.0.0.1:9');
    expect(() => readEnv({ PAGERDUTY_API_URL: 'events.pagerduty.com' })).toThrow(
      'PAGERDUTY_API_URL is not an http(s) URL',
    );
  });
});
