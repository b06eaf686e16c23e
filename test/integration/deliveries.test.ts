// The delivery queue in-process: the App with recording Slack and an in-memory store, its drain sending through
// the real sink transport to local sink receivers; time moves by a fake clock, retries by kicking the drain.
import { afterEach, describe, expect, it } from 'vitest';
import { App, ARCHIVE_AFTER_MS, FAILED_ARCHIVE_AFTER_MS } from '../../src/app.js';
import { statusRows } from '../../src/cli/render.js';
import type { SinkConfig } from '../../src/config/types.js';
import { DeliveryDrain } from '../../src/deliver/drain.js';
import { sinkTarget } from '../../src/deliver/events.js';
import type { DeliveryTarget, Transport } from '../../src/deliver/port.js';
import { createSinkTransport } from '../../src/deliver/sink.js';
import { createOfflineWriter } from '../../src/llm/offline-writer.js';
import { LocalSink } from '../../src/sandbox/local-sink.js';
import { fakeClock, memoryStore, PIVOT, recordingSlack, replyTs } from '../support/memory-ports.js';

const SECRET = 'whsec_integration';
const analyst = { id: 'U0ANALYST', via: 'slack' } as const;
let eventSeq = 0;

const sinks: LocalSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((sink) => sink.close()));
});

/** The App and its drain, with one local sink receiver per entry of `events`. */
async function world(events: SinkConfig['events'][]) {
  const clock = fakeClock();
  const store = memoryStore();
  const slack = recordingSlack();
  const logs: string[] = [];
  const log = (line: string) => logs.push(line);
  const receivers: LocalSink[] = [];
  const transports = new Map<DeliveryTarget, Transport>();
  const config: SinkConfig[] = [];
  for (const wanted of events) {
    const sink = await LocalSink.start({ secret: SECRET, now: () => clock.now().getTime() });
    sinks.push(sink);
    receivers.push(sink);
    const sinkConfig: SinkConfig = { url: sink.url, secretEnv: 'SINK_SECRET', events: wanted };
    config.push(sinkConfig);
    transports.set(sinkTarget(sinkConfig), createSinkTransport({ url: sink.url, secret: SECRET, clock: clock.now }));
  }
  const drain = new DeliveryDrain({ store, clock: clock.now, log, transports, schedule: () => undefined });
  let id = 0;
  const app = new App(
    {
      slack,
      llm: createOfflineWriter(),
      store,
      clock: clock.now,
      newId: () => String(++id).padStart(6, '0'),
      log,
      schedule: () => undefined,
      deliveries: drain,
    },
    { feedChannelId: 'C0FEED', maxNudges: 1, nudgeAfterMs: 60 * 60_000, responders: [], sinks: config },
  );
  const answer = (text: string) =>
    app.handleInbound({
      kind: 'dm',
      eventId: `Ev${++eventSeq}`,
      userId: 'U0HAROLD',
      channelId: 'D0H',
      text,
      ts: replyTs(),
    });
  const settle = async () => {
    await app.idle();
    await drain.idle();
  };
  return { app, drain, store, slack, clock, logs, sinks: receivers, config, answer, settle };
}

const ALL = ['posted', 'started', 'ended', 'dismissed'] as SinkConfig['events'];

describe('deliveries to a sink', () => {
  it('reach a sink that was down, once each and in order, every attempt under the same key and body', async () => {
    const w = await world([ALL]);
    const [sink] = w.sinks;
    if (!sink) throw new Error('no sink');
    sink.setMode({ kind: 'unavailable' });
    const { alert } = await w.app.postAlert(PIVOT);
    await w.app.request(alert.id, 'start', analyst);
    await w.answer('yes, it was me: I was migrating the host');
    await w.settle();
    // Only the first event was tried: the others wait behind it, so the receiver sees them in order.
    expect(sink.requests.map((r) => [r.key, r.status])).toEqual([[`${alert.id}:posted`, 503]]);
    // Closed, but its deliveries are pending: it stays in the working set past the archive delay.
    w.clock.advance(ARCHIVE_AFTER_MS);
    await w.app.tick();
    expect(w.store.data().alerts[alert.id]).toBeDefined();

    w.drain.kick(); // the retry is due (the clock moved): still down
    await w.settle();
    sink.setMode({ kind: 'up' });
    w.clock.advance(2000);
    w.drain.kick();
    await w.settle();

    const keys = ['posted', 'started', 'ended'].map((event) => `${alert.id}:${event}`);
    expect(sink.delivered.map((r) => r.key)).toEqual(keys);
    const posted = sink.requests.filter((r) => r.key === keys[0]);
    expect(posted.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(new Set(posted.map((r) => r.raw)).size).toBe(1);
    const ended = sink.delivered[2]?.body as { verdict: unknown; transcript: { from: string }[] };
    expect(ended.verdict).toEqual({
      outcome: 'answered',
      aware: true,
      verified: null,
      summary: expect.stringContaining('Harold'),
    });
    expect(ended.transcript.map((line) => line.from).sort()).toEqual(['bot', 'bot', 'person']);
    expect(statusRows(Object.values(w.store.data().alerts), { all: true })[0]?.deliveries.map((d) => d.state)).toEqual([
      'delivered',
      'delivered',
      'delivered',
    ]);
    // Delivered: the alert is archived at the next tick.
    await w.app.tick();
    expect(w.store.data().alerts[alert.id]).toBeUndefined();
  });

  it('records a refusal for good, shows it in status and the log, and does not retry it', async () => {
    const w = await world([['posted', 'dismissed']]);
    const [sink] = w.sinks;
    if (!sink) throw new Error('no sink');
    sink.setMode({ kind: 'status', status: 422 });
    const { alert } = await w.app.postAlert(PIVOT);
    await w.settle();
    sink.setMode({ kind: 'up' });
    await w.app.request(alert.id, 'dismiss', analyst);
    await w.settle();
    w.clock.advance(60 * 60_000);
    w.drain.kick();
    await w.settle();
    expect(sink.requests.map((r) => [r.key, r.status])).toEqual([
      [`${alert.id}:posted`, 422],
      [`${alert.id}:dismissed`, 200],
    ]);
    const [row] = statusRows(Object.values(w.store.data().alerts), { all: false });
    expect(row?.deliveries.map((d) => [d.event, d.state, d.failure])).toEqual([
      ['posted', 'failed', 'HTTP 422'],
      ['dismissed', 'delivered', null],
    ]);
    expect(
      w.logs.some((l) =>
        l.includes(
          `delivery ${alert.id}:posted to ${sinkTarget(w.config[0] as SinkConfig)}: failed for good after 1 attempt: HTTP 422`,
        ),
      ),
    ).toBe(true);
    // Kept in the working set for a day, as a failed chat is, so that plain `irbot status` lists it.
    w.clock.advance(ARCHIVE_AFTER_MS);
    await w.app.tick();
    expect(w.store.data().alerts[alert.id]).toBeDefined();
    w.clock.advance(FAILED_ARCHIVE_AFTER_MS);
    await w.app.tick();
    expect(w.store.data().alerts[alert.id]).toBeUndefined();
  });

  it("sends a queued chat's started when its turn comes, after the chat before it ended", async () => {
    const w = await world([ALL]);
    const [sink] = w.sinks;
    if (!sink) throw new Error('no sink');
    const first = (await w.app.postAlert(PIVOT)).alert;
    const second = (await w.app.postAlert(PIVOT)).alert;
    await w.app.request(first.id, 'start', analyst);
    await w.app.request(second.id, 'start', analyst);
    await w.settle();
    expect(sink.delivered.map((r) => r.key)).not.toContain(`${second.id}:started`);
    await w.answer('yes, it was me');
    await w.settle();
    const keys = sink.delivered.map((r) => r.key);
    expect(keys).toContain(`${second.id}:started`);
    expect(keys.indexOf(`${second.id}:started`)).toBeGreaterThan(keys.indexOf(`${first.id}:started`));
  });

  it('lets Slack work and other sinks go on while one sink hangs', async () => {
    const w = await world([ALL, ALL]);
    const [slow, quick] = w.sinks;
    if (!slow || !quick) throw new Error('no sinks');
    slow.setMode({ kind: 'hold' });
    const { alert } = await w.app.postAlert(PIVOT);
    await slow.waitFor((requests) => requests.length === 1);
    await w.app.request(alert.id, 'start', analyst);
    await w.app.idle();
    // The greeting went out and the other sink got both events while the slow one still holds the first.
    expect(w.slack.calls.some((c) => c.method === 'post' && c.channel === 'U0HAROLD')).toBe(true);
    await quick.waitFor((requests) => requests.filter((r) => r.status === 200).length === 2);
    expect(slow.requests.map((r) => r.status)).toEqual([0]);
    slow.setMode({ kind: 'up' }); // answers what it held, then the rest
    await w.settle();
    expect(slow.delivered.map((r) => r.event)).toEqual(['posted', 'started']);
  });
});
