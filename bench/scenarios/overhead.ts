// Scenario 1: irbot's own processing time per handled event, with Slack and the LLM answering at once.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalSlack } from '../../src/sandbox/local-slack.js';
import { decodeEnvelope } from '../../src/slack/envelope.js';
import { openPgStore } from '../../src/store/pg/pg-store.js';
import { startFakeOpenAi } from '../../test/support/fake-openai.js';
import { ANALYST, benchSetup, fileLog, wrappedApp } from '../lib/in-process.js';
import { Meter } from '../lib/meter.js';
import { createBenchDatabase, serverNote } from '../lib/pg-database.js';
import { check, type ScenarioResult } from '../lib/result.js';
import type { Settings } from '../lib/settings.js';
import { median, round, rssSampler, summary } from '../lib/stats.js';

const PERSON = 'U0HAROLD';
const WARM_UP = 20;

interface Sample {
  /** handleInbound called → app.idle() resolved. */
  wall: number;
  /** wall less the time inside Slack and LLM calls (the local servers run in this process too). */
  own: number;
  /** Time inside store calls, part of `own`. */
  store: number;
  storeCalls: number;
  externalCalls: number;
}

/** On the lowdb store (default), or with `pg` on a PostgreSQL database of its own (scenario overhead-pg). */
export async function runOverhead(
  settings: Settings,
  logDir: string,
  opts: { pg?: boolean } = {},
): Promise<ScenarioResult> {
  const name = opts.pg ? 'overhead-pg' : 'overhead';
  const started = performance.now();
  const rss = rssSampler();
  const dir = await mkdtemp(join(tmpdir(), 'irbot-bench-overhead-'));
  const slack = await LocalSlack.start();
  const openai = await startFakeOpenAi({ latencyMs: 0, recordBodies: false });
  const logs = fileLog(join(logDir, `${name}.log`));
  const meter = new Meter();
  const db = opts.pg ? await createBenchDatabase() : undefined;
  const pgStore = db ? openPgStore(db.url, { log: logs.log }) : undefined;
  const pgServer = db ? await serverNote(db) : null;
  try {
    const setup = benchSetup({ slack, openaiBaseUrl: openai.baseURL, dir, log: logs.log, maxNudges: 20, rateScale: 1 });
    const { app, ports } = wrappedApp(setup, {
      ...(pgStore ? { store: pgStore } : {}),
      maxNudges: 1_000_000,
      wrap: (plain) => ({
        ...plain,
        slack: meter.wrap(plain.slack, 'external'),
        llm: meter.wrap(plain.llm, 'external'),
        store: meter.wrap(plain.store, 'store'),
      }),
    });
    const { alert } = await app.postAlert({
      id: 'overhead',
      name: 'Unusual login',
      description: 'A login from a new country',
      userId: PERSON,
      properties: { country: 'NZ' },
    });
    await app.request(alert.id, 'start', { id: ANALYST, via: 'slack' });
    await app.idle();
    const dm = slack.dmChannelOf(PERSON);

    // Every DM is relayed, classified as not answered yet, and nudged: 5 Slack and LLM calls, ~10 store changes.
    const handleOne = async (i: number): Promise<Sample> => {
      const inbound = decodeEnvelope('events_api', {
        event_id: `EvBENCH${String(i).padStart(6, '0')}`,
        event: {
          type: 'message',
          channel_type: 'im',
          user: PERSON,
          channel: dm,
          ts: slack.nextTs(), // after the bot's last DM, as in Slack
          text: 'what is this?',
        },
      });
      const e0 = meter.busyMs('external');
      const s0 = meter.busyMs('store');
      const c0 = { ...meter.calls };
      const t0 = performance.now();
      await app.handleInbound(inbound);
      await app.idle();
      const wall = performance.now() - t0;
      const external = meter.busyMs('external') - e0;
      return {
        wall,
        own: wall - external,
        store: meter.busyMs('store') - s0,
        storeCalls: meter.calls.store - c0.store,
        externalCalls: meter.calls.external - c0.external,
      };
    };
    for (let i = 0; i < WARM_UP; i++) await handleOne(i);
    const samples: Sample[] = [];
    for (let i = 0; i < settings.overheadEvents; i++) samples.push(await handleOne(WARM_UP + i));

    const own = samples.map((s) => s.own);
    const first = own.slice(0, 100);
    const last = own.slice(-100);
    const final = (await ports.store.read()).alerts[alert.id];
    const ownSummary = summary(own);
    return {
      name,
      title: `Overhead${pgStore ? ' on PostgreSQL' : ''}: one chat, ${samples.length} DMs, no rate limits, no LLM latency`,
      seconds: round((performance.now() - started) / 1000, 1),
      peakRssMb: rss.stop(),
      checks: [check('own time per event, p99', ownSummary.p99, 'ms', 5, '<')],
      notes: [
        `Each event is one DM from the person, handed to App.handleInbound and timed until App.idle(): relay to the thread, classify (not answered), nudge, DM, relay. "Own" is that wall time less the time inside Slack and LLM port calls (the local servers answer in this process); store time counts as irbot's own.`,
        ...(pgStore
          ? [
              'The store is PostgreSQL (the local server, a database of the bench’s own, a pool of 4 as `irbot listen` opens it): each transaction takes the advisory lock, catches up on rows other processes wrote (none here) and writes back only the rows it changed; commits wait for the WAL flush but for lease renewals.',
              ...(pgServer ? [pgServer] : []),
            ]
          : []),
        `${WARM_UP} warm-up events are not counted. The chat's transcript grows by two lines per event, so the last events carry a ${final?.transcript.length ?? '?'}-line transcript: compare the first and last hundred.`,
      ],
      raw: {
        events: samples.length,
        wallMs: summary(samples.map((s) => s.wall)),
        ownMs: ownSummary,
        storeMs: summary(samples.map((s) => s.store)),
        ownOutsideStoreMs: summary(samples.map((s) => s.own - s.store)),
        ownFirst100MedianMs: round(median(first)),
        ownLast100MedianMs: round(median(last)),
        storeCallsPerEvent: median(samples.map((s) => s.storeCalls)),
        externalCallsPerEvent: median(samples.map((s) => s.externalCalls)),
        transcriptLines: final?.transcript.length ?? null,
        slackCalls: slack.calls.length,
        llmRequests: openai.requests.length,
        logLines: logs.lines(),
        logTroubleLines: logs.troubles(),
        log: logs.path,
      },
    };
  } finally {
    await pgStore?.close();
    await db?.drop();
    await logs.close();
    await slack.close();
    await openai.close();
    await rm(dir, { recursive: true, force: true });
  }
}
