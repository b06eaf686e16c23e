// Replicas: separate `irbot listen` processes (the real binary) sharing one PostgreSQL database and one local
// Slack. Events spread over their connections, one is killed mid-chat, one is paused past its lease, the
// database drops every connection mid-chat, HTTP events reach either replica: each chat goes on, nothing lost,
// nothing sent twice. Each scenario has a world of its own (database, Slack, OpenAI), so they run side by side:
// the lease the SIGSTOP test waits out is time the others use.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, type ExpectStatic, it, type TestContext } from 'vitest';
import { LocalSlack, type LocalSlackOptions } from '../../src/sandbox/local-slack.js';
import { openPgStore } from '../../src/store/pg/pg-store.js';
import type { AlertRecord } from '../../src/store/port.js';
import { runCli } from '../support/cli.js';
import { type FakeOpenAi, startFakeOpenAi } from '../support/fake-openai.js';
import { makeWorkspace, type Running, startIrbot, type Workspace } from '../support/irbot.js';
import { ADMIN_URL, createTestDatabase, sql } from '../support/pg.js';
import { isPost, relaysIn } from '../support/relays.js';

/** The shortest lease irbot allows: a paused replica's work moves on after it (the point of the SIGSTOP test). */
const CONFIG = 'feed_channel_id = "C0FEED"\nmax_nudges = 1\nllm_timeout_seconds = 5\nlease_seconds = 5\n';

interface World {
  slack: LocalSlack;
  openai: FakeOpenAi;
  ws: Workspace;
  dbName: string;
  expect: ExpectStatic;
}

/** A local Slack, a fake OpenAI and a workspace whose store is a database of its own; gone when the test ends. */
async function world(
  { expect, onTestFinished }: TestContext,
  opts: { slack?: LocalSlackOptions; env?: Record<string, string> } = {},
): Promise<World> {
  const [db, slack, openai] = await Promise.all([
    createTestDatabase(),
    LocalSlack.start(opts.slack),
    startFakeOpenAi(),
  ]);
  onTestFinished(async () => {
    await Promise.all([slack.close(), openai.close()]);
    await db.drop();
  });
  const ws = await makeWorkspace({
    slackApiUrl: slack.apiUrl,
    openaiBaseUrl: openai.baseURL,
    config: CONFIG,
    env: { DATABASE_URL: db.url, ...opts.env },
  });
  return { slack, openai, ws, dbName: db.name, expect };
}

/** Starts a replica, killed when the test ends if it still runs; a failed test shows the end of its log. */
function spawnReplica(w: World, { onTestFinished, onTestFailed }: TestContext, args: string[]): Running {
  const replica = startIrbot(args, w.ws);
  onTestFailed(() => {
    process.stderr.write(
      `--- replica ${replica.child.pid} (${args.join(' ')}), last lines:\n${replica.stderr.split('\n').slice(-25).join('\n')}\n`,
    );
  });
  onTestFinished(() => replica.stop('SIGKILL').then(() => undefined));
  return replica;
}

/** The replicas as [the one whose claim is on the chat's greeting, the other]. */
async function byGreetingClaim(w: World, replicas: [Running, Running]): Promise<[Running, Running]> {
  const rows = await sql<{ pid: number }>(
    w.ws.env.DATABASE_URL ?? '',
    "SELECT (claim->>'pid')::int AS pid FROM irbot_outbox WHERE effect->>'type' = 'Greet'",
  );
  const [a, b] = replicas;
  w.expect([a.child.pid, b.child.pid]).toContain(rows[0]?.pid);
  return rows[0]?.pid === a.child.pid ? [a, b] : [b, a];
}

/** Two `irbot listen` replicas, connected over Socket Mode. */
async function socketReplicas(w: World, test: TestContext): Promise<[Running, Running]> {
  const procs: [Running, Running] = [spawnReplica(w, test, ['listen']), spawnReplica(w, test, ['listen'])];
  await w.slack.waitForConnections(2);
  return procs;
}

/** Two `irbot listen --http` replicas, each on a port of its own; the local Slack's request URLs, A's first. */
async function httpReplicas(w: World, test: TestContext): Promise<[Running, Running]> {
  const args = ['listen', '--http', '127.0.0.1:0'];
  const procs: [Running, Running] = [spawnReplica(w, test, args), spawnReplica(w, test, args)];
  const urls = await Promise.all(
    procs.map(async (p) => {
      await p.waitFor(/listening on HTTP events at /);
      return /(http:\/\/127\.0\.0\.1:\d+\/slack\/events)/.exec(p.stderr)?.[1] ?? '';
    }),
  );
  w.slack.deliverOverHttp(urls);
  return procs;
}

/** Posts an alert for `userId` (in-process, on the shared database). */
async function alertFor(w: World, userId: string): Promise<{ id: string; ts: string }> {
  const file = join(w.ws.dir, `${userId}.json`);
  await writeFile(file, JSON.stringify({ id: 'pivot', name: 'Pivoting', user_id: userId }));
  const sent = await runCli(['send-alert', '--file', file, '--json'], w.ws);
  w.expect(sent.stderr).toBe('');
  const posted = JSON.parse(sent.stdout) as { id: string; ts: string } | Array<{ id: string; ts: string }>;
  return Array.isArray(posted) ? (posted[0] as { id: string; ts: string }) : posted;
}

/** The analyst presses Start Chat; `to`: the connection (replica) Slack hands the click to, else the next. */
function clickStart(w: World, alert: { id: string; ts: string }, to?: number) {
  return w.slack.clickButton({
    userId: 'U0ANALYST',
    actionId: 'start_chat_submit_action',
    value: alert.id,
    channel: 'C0FEED',
    messageTs: alert.ts,
    ...(to === undefined ? {} : { to }),
  });
}

/** The relays in an alert's thread (as Slack holds them) that start with `prefix`. */
function inThread(w: World, ts: string, prefix: string): number {
  return w.slack
    .thread('C0FEED', ts)
    .flatMap((m) => relaysIn(m.text))
    .filter((t) => t.startsWith(prefix)).length;
}

/** The bot's DMs to a person that match. */
function dmsTo(w: World, userId: string, pattern: RegExp): number {
  return w.slack.history(w.slack.dmChannelOf(userId)).filter((m) => m.bot_id !== undefined && pattern.test(m.text))
    .length;
}

const GREETING = /quick question/;
const greetingRelayed = (userId: string) => isPost('C0FEED', new RegExp(`^Sent message to <@${userId}>:`));

/** One whole chat, as Slack shows it: each step once. */
function expectOneWholeChat(w: World, userId: string, ts: string): void {
  const { expect } = w;
  expect(dmsTo(w, userId, GREETING)).toBe(1);
  expect(dmsTo(w, userId, /^Thanks for your time!$/)).toBe(1);
  expect(inThread(w, ts, `Sent message to <@${userId}>:`)).toBe(2); // the greeting and the thanks
  expect(inThread(w, ts, `Received message from <@${userId}>:`)).toBe(1);
  expect(inThread(w, ts, 'Here is the summary')).toBe(1);
}

/**
 * Until these alerts' chats have ended as answered and every outbox is empty (all that was queued is done, so
 * nothing more can be posted).
 */
function untilAnswered(w: World, ids: string[]): Promise<void> {
  return untilStore(w, (alerts) => {
    const answered = (id: string) =>
      alerts.some((a) => a.id === id && a.chat.state === 'ended' && a.chat.outcome === 'answered');
    return ids.every(answered) && alerts.every((a) => a.outbox.length === 0);
  });
}

/** Until `done` holds of the alerts in the database, looked at again after each commit to it. */
async function untilStore(w: World, done: (alerts: AlertRecord[]) => boolean, timeoutMs = 10_000): Promise<void> {
  const store = openPgStore(w.ws.env.DATABASE_URL ?? '');
  let wake: () => void = () => undefined;
  const unwatch = store.watch?.(() => wake());
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const changed = new Promise<void>((resolve) => {
        wake = resolve;
      });
      const alerts = Object.values((await store.read()).alerts);
      if (done(alerts)) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        const states = alerts.map((a) => ({ id: a.id, state: a.chat.state, outbox: a.outbox }));
        throw new Error(`the store never got there in ${timeoutMs} ms: ${JSON.stringify(states)}`);
      }
      await Promise.race([changed, new Promise((resolve) => setTimeout(resolve, left).unref())]);
    }
  } finally {
    unwatch?.();
    await store.close();
  }
}

describe.concurrent('replicas on one PostgreSQL database', () => {
  it('spreads events over both Socket Mode connections; each of two chats completes once', async (test) => {
    const w = await world(test);
    const [a, b] = await socketReplicas(w, test);
    const harold = await alertFor(w, 'U0HAROLD');
    const alice = await alertFor(w, 'U0ALICE');
    // Slack hands each envelope to one connection, in turn: the clicks go one to each replica.
    await clickStart(w, harold);
    await clickStart(w, alice);
    await w.slack.waitForCall(greetingRelayed('U0HAROLD'));
    await w.slack.waitForCall(greetingRelayed('U0ALICE'));
    await w.slack.sendDm({ userId: 'U0HAROLD', text: 'yes, that was me' });
    await w.slack.sendDm({ userId: 'U0ALICE', text: 'yes, it was me' });
    await untilAnswered(w, [harold.id, alice.id]);

    expectOneWholeChat(w, 'U0HAROLD', harold.ts);
    expectOneWholeChat(w, 'U0ALICE', alice.ts);
    const { expect } = test;
    expect(new Set(w.slack.deliveries.map((d) => d.connectionId))).toEqual(new Set([1, 2]));
    expect(new Set(w.slack.acks.map((ack) => ack.connectionId))).toEqual(new Set([1, 2]));
    // Each replica logs what it applied once it has acted on it.
    await a.waitFor(/"event":"button"/);
    await b.waitFor(/"event":"button"/);
  });

  it('carries a chat on when the replica that got the click is killed (kill -9) mid-greeting', async (test) => {
    const { expect } = test;
    const w = await world(test);
    const replicas = await socketReplicas(w, test);
    const harold = await alertFor(w, 'U0HAROLD');
    // A, the replica that gets the click, claims the greeting; its LLM call is held, so A dies mid-chat.
    w.openai.failNext({ hang: true });
    await clickStart(w, harold);
    await w.openai.waitForRequest((r) => r.kind === 'greeting');
    const [a, b] = await byGreetingClaim(w, replicas);
    expect((await a.stop('SIGKILL')).code).toBe(null);
    // Same host: B's sweep sees that the claim's process is gone and takes the work over at once, without waiting
    // for the lease to run out (a claim made on another machine waits for its lease).
    await w.slack.waitForCall(greetingRelayed('U0HAROLD'));
    await w.slack.sendDm({ userId: 'U0HAROLD', text: 'yes, that was me' });
    await untilAnswered(w, [harold.id]);
    expectOneWholeChat(w, 'U0HAROLD', harold.ts);
    expect(w.openai.count('greeting')).toBe(2); // A's, lost with it, and B's
    await b.waitFor(/dm from U0HAROLD/);
  });

  it('fences a replica paused (SIGSTOP) past its lease: the other greets once, the resumed one posts nothing', async (test) => {
    const { expect } = test;
    const w = await world(test);
    const replicas = await socketReplicas(w, test);
    const harold = await alertFor(w, 'U0HAROLD');
    // A, the replica that gets the click, claims the greeting and is paused while the LLM writes it; when A
    // resumes, its next step is the DM. Paused once the rest of the click's work is done: A holds no transaction.
    w.openai.failNext({ hang: true });
    const clickedAt = Date.now();
    await clickStart(w, harold);
    await w.openai.waitForRequest((r) => r.kind === 'greeting');
    await untilStore(w, (alerts) => alerts.every((x) => x.outbox.every((item) => item.effect.type === 'Greet')));
    const [a, b] = await byGreetingClaim(w, replicas);
    a.child.kill('SIGSTOP');
    // A's process is alive: B takes the work over only once A's lease (5 s, not renewed) has run out.
    const greeted = await w.slack.waitForCall(isPost('U0HAROLD', GREETING), 20_000);
    expect(greeted.at - clickedAt).toBeGreaterThanOrEqual(5_000);
    await w.slack.waitForCall(greetingRelayed('U0HAROLD'));
    // The LLM answers A at last and A resumes; stopped gracefully, it first finishes what it was doing.
    expect(w.openai.releaseHung()).toBe(1);
    a.child.kill('SIGCONT');
    expect((await a.stop('SIGTERM')).code).toBe(0);
    expect(dmsTo(w, 'U0HAROLD', GREETING)).toBe(1);
    expect(inThread(w, harold.ts, 'Sent message to <@U0HAROLD>:')).toBe(1);
    // B carries the chat to its end.
    await w.slack.sendDm({ userId: 'U0HAROLD', text: 'yes, that was me' });
    await untilAnswered(w, [harold.id]);
    expectOneWholeChat(w, 'U0HAROLD', harold.ts);
    expect(b.child.exitCode).toBe(null);
  }, 60_000);

  it('rides out the database dropping every connection mid-chat: a DM it could not record is re-delivered', async (test) => {
    const { expect } = test;
    // Slack re-delivers an envelope left unacknowledged (after 3 s; here 1 s).
    const w = await world(test, { slack: { redeliverAfterMs: 1_000 } });
    const [a, b] = await socketReplicas(w, test);
    const harold = await alertFor(w, 'U0HAROLD');
    await clickStart(w, harold);
    await w.slack.waitForCall(greetingRelayed('U0HAROLD'));
    // The database goes away: every connection to it cut, none let in until it is back.
    await sql(ADMIN_URL, `ALTER DATABASE ${w.dbName} ALLOW_CONNECTIONS false`);
    await sql(ADMIN_URL, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [w.dbName]);
    const dm = await w.slack.sendDm({ userId: 'U0HAROLD', text: 'yes, that was me' });
    await Promise.any([a, b].map((replica) => replica.waitFor(/"event":"envelope_failed"/)));
    await sql(ADMIN_URL, `ALTER DATABASE ${w.dbName} ALLOW_CONNECTIONS true`);
    await untilAnswered(w, [harold.id]);
    expectOneWholeChat(w, 'U0HAROLD', harold.ts);
    // Not acknowledged while it could not be recorded; a re-delivery was, once the database was back.
    expect(w.slack.acks.some((ack) => ack.envelopeId === dm.envelopeId)).toBe(false);
    expect(w.slack.deliveries.some((d) => d.eventId === dm.eventId && d.envelope.retry_attempt !== 0)).toBe(true);
    for (const replica of [a, b]) {
      expect(replica.stderr).toContain('PostgreSQL connection lost: terminating connection due to administrator');
      expect(replica.child.exitCode).toBe(null);
    }
  });

  it('over HTTP events behind a load balancer: a DM that reaches B relays the chat A started', async (test) => {
    const { expect } = test;
    const w = await world(test, {
      env: { SLACK_SIGNING_SECRET: 'local-sandbox-signing-secret', SOCKET_APP_TOKEN: '' },
    });
    const [a, b] = await httpReplicas(w, test);
    const harold = await alertFor(w, 'U0HAROLD');
    await clickStart(w, harold, 0);
    await w.slack.waitForCall(greetingRelayed('U0HAROLD'));
    const dm = await w.slack.sendDm({ userId: 'U0HAROLD', text: 'yes, that was me', to: 1 });
    expect(dm.status).toBe(200);
    await untilAnswered(w, [harold.id]);
    expectOneWholeChat(w, 'U0HAROLD', harold.ts);
    await a.waitFor(/button start on .*: alert .* posted → active/);
    await b.waitFor(/dm from U0HAROLD .*: alert .* active → /);
    expect(w.slack.callsTo('apps.connections.open')).toHaveLength(0);
  });
});
