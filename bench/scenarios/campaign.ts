// Scenario 2: N alerts about N people, every chat started at once, each person answering after one nudge, against
// Slack's rate limits (scaled) and an LLM with a fixed latency. Measures time to the last completed chat.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serve } from '../../src/cli/runtime.js';
import {
  DEFAULT_USERS,
  type FakeUser,
  LocalSlack,
  type MessageNotice,
  type StoredMessage,
} from '../../src/sandbox/local-slack.js';
import { ACTION_IDS } from '../../src/slack/blocks.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import type { AlertRecord } from '../../src/store/port.js';
import { startFakeOpenAi } from '../../test/support/fake-openai.js';
import { ANALYST, benchSetup, FEED, fileLog, listeningApp, pool, wrappedApp } from '../lib/in-process.js';
import { CAMPAIGN_FLOW, campaignLowerBound } from '../lib/lower-bound.js';
import { check, type ScenarioResult } from '../lib/result.js';
import { llmServerLatencyMs, type Settings } from '../lib/settings.js';
import { round, rssSampler, sleep } from '../lib/stats.js';

/** Relay lines, by the start of the line: several may share one message when irbot coalesces them. */
export const RELAY_PREFIXES = {
  sent: 'Sent message to',
  received: 'Received message from',
  summary: 'Here is the summary',
} as const;
type RelayKind = keyof typeof RELAY_PREFIXES;
const EXPECTED_LINES: Record<RelayKind, number> = { sent: 3, received: 2, summary: 1 };
const EXPECTED_BOT_DMS = CAMPAIGN_FLOW.dms;
const FIRST_REPLY = 'what is this?';
const SECOND_REPLY = 'yes it was me';

export function relayLines(text: string): Record<RelayKind, number> {
  const counts: Record<RelayKind, number> = { sent: 0, received: 0, summary: 0 };
  for (const line of text.split('\n')) {
    for (const kind of Object.keys(RELAY_PREFIXES) as RelayKind[]) {
      if (line.startsWith(RELAY_PREFIXES[kind])) counts[kind] += 1;
    }
  }
  return counts;
}

const isRoot = (m: StoredMessage) => m.thread_ts === undefined || m.thread_ts === m.ts;
const hasButtons = (m: StoredMessage) => (m.blocks ?? []).some((b) => b.type === 'actions');

function people(n: number): FakeUser[] {
  return Array.from({ length: n }, (_, i) => {
    const k = String(i + 1).padStart(5, '0');
    return { id: `U0BP${k}`, name: `person.${k}`, displayName: `Person ${k}`, realName: `Person Number ${k}` };
  });
}

export async function runCampaign(n: number, settings: Settings, logDir: string): Promise<ScenarioResult> {
  const name = `campaign-${n}`;
  const started = performance.now();
  const rss = rssSampler();
  const dir = await mkdtemp(join(tmpdir(), `irbot-bench-${name}-`));
  const persons = people(n);
  const slack = await LocalSlack.start({
    users: [...DEFAULT_USERS, ...persons],
    rateLimits: { scale: settings.rateScale, toleranceMs: settings.rateToleranceMs },
    redeliverAfterMs: settings.redeliverMs > 0 ? settings.redeliverMs : null,
  });
  const limiter = slack.rateLimiter;
  if (!limiter) throw new Error('LocalSlack started without its rate limiter');
  limiter.disable(); // posting the alerts is set-up, not the campaign
  const llmLatencyMs = llmServerLatencyMs(settings);
  const openai = await startFakeOpenAi({ latencyMs: llmLatencyMs, recordBodies: false });
  const logs = fileLog(join(logDir, `${name}.log`));
  const setup = benchSetup({
    slack,
    openaiBaseUrl: openai.baseURL,
    dir,
    log: logs.log,
    maxNudges: 3,
    rateScale: settings.rateScale,
  });
  const app = listeningApp(setup);
  const serving = await serve(app, { appToken: slack.appToken, slackApiUrl: slack.apiUrl }, logs.log);
  process.stdout.write(`  ${name}: posting ${n} alerts (set-up, no rate limits)…\n`);
  const setupStart = performance.now();
  // Posted by an unpaced App on the same store, so that set-up does not wait on the feed channel's rate.
  const poster = wrappedApp(setup, { maxNudges: 3, wrap: (ports) => ports }).app;
  const alerts: AlertRecord[] = await pool(persons, 8, async (person, i) => {
    const { alert } = await poster.postAlert({
      id: 'travel',
      name: 'Impossible travel',
      description: 'Two logins from places too far apart for the time between them',
      userId: person.id,
      properties: { first_login: 'Oslo', second_login: 'Lima', n: String(i + 1) },
    });
    return alert;
  });
  await poster.idle();
  const setupSeconds = (performance.now() - setupStart) / 1000;

  const limitOf = (method: string) => limiter.limitOf(method);
  const boundOptions = { n, limitOf, llmLatencyMs, toleranceMs: settings.rateToleranceMs };
  const bound = campaignLowerBound({ ...boundOptions, kind: 'floor' });
  const uncoalescedBound = campaignLowerBound({ ...boundOptions, kind: 'uncoalesced' });
  const rootOf = new Map(alerts.map((a) => [a.ts ?? '', a]));
  const dmOwner = new Map(persons.map((p) => [slack.dmChannelOf(p.id), p.id]));
  const botDms = new Map<string, number>();
  const summaryAt = new Map<string, number>();
  const closedAt = new Map<string, number>();
  const doneAt = new Map<string, number>();
  const stages = { greeted: 0, nudged: 0, thanked: 0 };
  let t0 = 0;
  let finish: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const settle = (root: string) => {
    const summary = summaryAt.get(root);
    const closed = closedAt.get(root);
    if (summary === undefined || closed === undefined || doneAt.has(root)) return;
    doneAt.set(root, Math.max(summary, closed));
    if (doneAt.size === n) finish();
  };
  const onMessage = (m: MessageNotice) => {
    const at = performance.now() - t0;
    if (m.channel === FEED) {
      if (isRoot(m)) {
        if (m.change === 'updated' && rootOf.has(m.ts) && !hasButtons(m) && !closedAt.has(m.ts)) {
          closedAt.set(m.ts, at);
          settle(m.ts);
        }
      } else if (m.thread_ts && relayLines(m.text).summary > 0 && !summaryAt.has(m.thread_ts)) {
        summaryAt.set(m.thread_ts, at);
        settle(m.thread_ts);
      }
      return;
    }
    const person = dmOwner.get(m.channel);
    if (person === undefined || m.change !== 'posted' || m.bot_id === undefined) return;
    const count = (botDms.get(person) ?? 0) + 1;
    botDms.set(person, count);
    if (count === 1) stages.greeted += 1;
    if (count === 2) stages.nudged += 1;
    if (count === 3) stages.thanked += 1;
    const reply = count === 1 ? FIRST_REPLY : count === 2 ? SECOND_REPLY : undefined;
    // The person answers at once, outside the local Slack's request handler.
    if (reply) setImmediate(() => void slack.sendDm({ userId: person, text: reply }).catch(() => undefined));
  };
  slack.on('message', onMessage);

  const progress: { t: number; greeted: number; nudged: number; summaries: number; done: number }[] = [];
  const sampler = setInterval(() => {
    progress.push({
      t: round((performance.now() - t0) / 1000, 1),
      greeted: stages.greeted,
      nudged: stages.nudged,
      summaries: summaryAt.size,
      done: doneAt.size,
    });
  }, 1000);
  const callsBefore = slack.calls.length;
  const requestsBefore = openai.requests.length;
  process.stdout.write(
    `  ${name}: set-up took ${setupSeconds.toFixed(1)} s; rate limits on (×${settings.rateScale}), clicking Start Chat on all ${n}…\n`,
  );
  const deadlineS = campaignDeadline(settings.deadlineS, bound.seconds);
  const deadlineMs = deadlineS * 1000;
  // How late timers fire while the campaign runs: irbot, the local Slack and the LLM server share this event loop.
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
  loopDelay.enable();
  limiter.enable();
  t0 = performance.now();
  let clicked = 0;
  const ticker = setInterval(() => {
    const s = ((performance.now() - t0) / 1000).toFixed(0);
    process.stdout.write(
      `  ${name}: ${s} s: clicked ${clicked}, greeted ${stages.greeted}, nudged ${stages.nudged}, summaries ${summaryAt.size}, done ${doneAt.size}/${n}, 429s ${total(limiter.rateLimited)}\n`,
    );
  }, 15_000);
  // Every click at once, as fast as Socket Mode carries them; the clock runs from the first.
  void pool(alerts, alerts.length, async (a) => {
    await slack.clickButton({
      userId: ANALYST,
      actionId: ACTION_IDS.start,
      value: a.id,
      channel: FEED,
      messageTs: a.ts ?? '',
    });
    clicked += 1;
  }).catch((err) => logs.log(`bench: a click failed: ${String(err)}`));
  await Promise.race([allDone, sleep(deadlineMs)]);
  const complete = doneAt.size === n;
  const elapsedS = complete ? Math.max(...doneAt.values()) / 1000 : (performance.now() - t0) / 1000;
  clearInterval(ticker);
  clearInterval(sampler);
  loopDelay.disable();
  slack.off('message', onMessage as (value: never) => void);
  const rateLimited = limiter.rateLimited;

  // What reached Slack, per alert thread and per DM, against what the flow must send.
  const threads = new Map<string, StoredMessage[]>();
  for (const m of slack.history(FEED)) {
    if (isRoot(m) || m.thread_ts === undefined) continue;
    const list = threads.get(m.thread_ts) ?? [];
    list.push(m);
    threads.set(m.thread_ts, list);
  }
  let lost = 0;
  let doubled = 0;
  let relayMessages = 0;
  let relayLineCount = 0;
  const lostByKind: Record<string, number> = {};
  const doubledByKind: Record<string, number> = {};
  for (const alert of alerts) {
    const ts = alert.ts ?? '';
    const counts: Record<RelayKind, number> = { sent: 0, received: 0, summary: 0 };
    for (const m of threads.get(ts) ?? []) {
      const lines = relayLines(m.text);
      const sum = lines.sent + lines.received + lines.summary;
      if (sum > 0) relayMessages += 1;
      relayLineCount += sum;
      for (const kind of Object.keys(counts) as RelayKind[]) counts[kind] += lines[kind];
    }
    const bot = slack.history(slack.dmChannelOf(alert.userId)).filter((m) => m.bot_id !== undefined).length;
    const actual = { ...counts, dm: bot };
    const expected = { ...EXPECTED_LINES, dm: EXPECTED_BOT_DMS };
    for (const kind of Object.keys(expected) as (keyof typeof expected)[]) {
      const over = actual[kind] - expected[kind];
      if (over > 0) {
        doubled += over;
        doubledByKind[kind] = (doubledByKind[kind] ?? 0) + over;
      }
      // Only a finished chat can be said to have lost something; the others may still be on their way.
      if (over < 0 && doneAt.has(ts)) {
        lost -= over;
        lostByKind[kind] = (lostByKind[kind] ?? 0) + -over;
      }
    }
  }

  const campaignCalls = slack.calls.slice(callsBefore);
  if (process.env.BENCH_DUMP_CALLS) {
    // For a closer look: every Web API call of the campaign, in arrival order.
    const rows = campaignCalls.map((c) => ({ at: c.at, method: c.method, status: c.status, channel: c.args.channel }));
    await writeFile(join(logDir, `${name}-calls.json`), JSON.stringify(rows));
  }
  const byMethod: Record<string, Record<string, number>> = {};
  for (const call of campaignCalls) {
    const row = byMethod[call.method] ?? {};
    const key =
      call.status === 429 ? '429' : call.response.ok === true ? 'ok' : String(call.response.error ?? call.status);
    row[key] = (row[key] ?? 0) + 1;
    byMethod[call.method] = row;
  }
  const llmByKind: Record<string, number> = {};
  for (const r of openai.requests.slice(requestsBefore)) llmByKind[r.kind] = (llmByKind[r.kind] ?? 0) + 1;
  const states: Record<string, number> = {};
  try {
    const data = await openLowdbStore(setup.config.databasePath).read();
    for (const a of Object.values(data.alerts)) {
      const key = a.chat.outcome ? `${a.chat.state}:${a.chat.outcome}` : a.chat.state;
      states[key] = (states[key] ?? 0) + 1;
    }
  } catch (err) {
    states.unreadable = 1;
    logs.log(`bench: could not read the store: ${String(err)}`);
  }

  const ratio = elapsedS / bound.seconds;
  const completions = [...doneAt.values()].sort((a, b) => a - b).map((ms) => round(ms / 1000, 2));
  const redeliveries = slack.deliveries.filter(
    (d) => typeof d.envelope.retry_attempt === 'number' && d.envelope.retry_attempt > 0,
  ).length;
  const total429 = total(rateLimited);
  const peakRssMb = rss.stop();

  // Stopping waits for calls in flight, which may be sleeping out a Retry-After: give it a little while only.
  await Promise.race([serving.stop().catch(() => undefined), sleep(10_000)]);
  await logs.close();
  await Promise.race([Promise.all([slack.close(), openai.close()]), sleep(5_000)]);
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);

  const notes: string[] = [];
  if (!complete) {
    notes.unshift(
      `INCOMPLETE: ${doneAt.size} of ${n} chats finished within the ${deadlineS.toFixed(0)} s deadline (greeted ${stages.greeted}, nudged ${stages.nudged}, summaries ${summaryAt.size}); the ratio shown is a floor.`,
    );
  }
  return {
    name,
    title: `Campaign: ${n} chats started at once, each answered after one nudge`,
    seconds: round((performance.now() - started) / 1000, 1),
    peakRssMb,
    checks: [
      check(`time ÷ lower bound${complete ? '' : ' (incomplete: at least)'}`, round(ratio, 2), '×', 1.1, '<='),
      check('relay lines and DMs lost', lost, '', 0, '<='),
      check('relay lines and DMs doubled', doubled, '', 0, '<='),
    ],
    notes,
    raw: {
      n,
      complete,
      completed: doneAt.size,
      totalSeconds: round(elapsedS, 2),
      lowerBoundSeconds: round(bound.seconds, 2),
      lowerBound: bound,
      uncoalescedLowerBoundSeconds: round(uncoalescedBound.seconds, 2),
      uncoalescedLowerBound: uncoalescedBound,
      ratio: round(ratio, 3),
      ratioToUncoalescedBound: round(elapsedS / uncoalescedBound.seconds, 3),
      setupSeconds: round(setupSeconds, 2),
      stages: { ...stages, summaries: summaryAt.size, closed: closedAt.size, done: doneAt.size },
      lost,
      lostByKind,
      doubled,
      doubledByKind,
      threadMessagesWithRelayLines: relayMessages,
      relayLines: relayLineCount,
      rateLimited,
      total429,
      callsByMethod: byMethod,
      llmRequestsByKind: llmByKind,
      socketRedeliveries: redeliveries,
      eventLoopDelayMs: {
        p50: lateMs(loopDelay.percentile(50)),
        p99: lateMs(loopDelay.percentile(99)),
        max: lateMs(loopDelay.max),
      },
      chatStates: states,
      completions,
      progress,
      settings: {
        rateScale: settings.rateScale,
        rateToleranceMs: settings.rateToleranceMs,
        llmLatencyMs: settings.llmLatencyMs,
        llmServerLatencyMs: llmLatencyMs,
        deadlineS,
        redeliverMs: settings.redeliverMs,
      },
      logLines: logs.lines(),
      logTroubleLines: logs.troubles(),
      log: logs.path,
    },
  };
}

/** BENCH_DEADLINE_S, or 10× the lower bound when that is shorter (but at least a minute). */
export function campaignDeadline(deadlineS: number, lowerBoundS: number): number {
  return Math.min(deadlineS, Math.max(60, 10 * lowerBoundS));
}

const LOOP_SAMPLE_MS = 5;

/** The histogram holds the sampling period plus the delay, in ns. */
function lateMs(ns: number): number {
  return round(Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS), 1);
}

function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
