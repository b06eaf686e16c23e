// app.ts with step-up: a scripted verifier, in-memory ports, and a fake clock that moves as the poller waits.
import { describe, expect, it } from 'vitest';
import { App, type AppOptions } from '../../src/app.js';
import { STEP_UP_ASK, STEP_UP_TIMED_OUT } from '../../src/chat/engine.js';
import type { Inbound } from '../../src/slack/envelope.js';
import type { StepUpSettings } from '../../src/step-up.js';
import type { AlertRecord } from '../../src/store/port.js';
import type { Verifier } from '../../src/verify/port.js';
import { PIVOT, replyTs, testApp } from '../support/memory-ports.js';
import { type ScriptedPush, testVerifier } from '../support/test-verifier.js';

const analyst = { id: 'U0ANALYST', via: 'slack' } as const;
const HAROLD = 'harold@example.com';
const DUO: StepUpSettings = { provider: 'duo', retries: 1, pushTimeoutSeconds: 60, usernameFrom: 'email' };
let eventSeq = 0;
const dm = (text: string): Inbound => ({
  kind: 'dm',
  eventId: `Ev${++eventSeq}`,
  userId: 'U0HAROLD',
  channelId: 'D0HAROLD',
  text,
  ts: replyTs(),
});

/** A DM from Harold, and everything it sets moving. */
async function say(t: { app: { handleInbound(i: Inbound): Promise<void>; idle(): Promise<void> } }, text: string) {
  await t.app.handleInbound(dm(text));
  await t.app.idle();
}

/** An App whose chat with Harold is started; the fake clock moves by what the poller sleeps. */
async function harold(
  pushes: ScriptedPush[],
  settings: Partial<StepUpSettings> = {},
  stepUp?: boolean,
  options: Partial<AppOptions> = {},
) {
  const duo = testVerifier({ [HAROLD]: pushes });
  let clock: { advance(ms: number): void } | undefined;
  const sleep = async (ms: number) => clock?.advance(ms);
  const t = testApp({ stepUp: { ...DUO, ...settings }, ...options }, undefined, undefined, {
    verifier: duo.verifier,
    sleep,
    pollEveryMs: 1000,
  });
  clock = t.clock;
  const { alert } = await t.app.postAlert(stepUp === undefined ? PIVOT : { ...PIVOT, stepUp });
  await t.app.request(alert.id, 'start', analyst);
  const record = () => t.store.data().alerts[alert.id] as AlertRecord;
  const dms = () => t.slack.calls.filter((c) => c.method === 'post' && c.channel === 'U0HAROLD').map((c) => c.text);
  const thread = () => t.slack.calls.filter((c) => c.method === 'post' && c.threadTs === alert.ts).map((c) => c.text);
  const system = () =>
    record()
      .transcript.filter((l) => l.from === 'system')
      .map((l) => l.text);
  const lastUpdate = () => JSON.stringify(t.slack.calls.filter((c) => c.method === 'update').at(-1)?.blocks);
  return { ...t, duo, alert, record, dms, thread, system, lastUpdate };
}

describe('step-up with a verifier', () => {
  it('approved: the person is asked to approve, the chat ends aware and verified, the attempt is in the transcript', async () => {
    const t = await harold([
      { answers: [{ result: 'waiting' }, { result: 'approved', reason: 'approved on the phone' }] },
    ]);
    await say(t, 'yes it was me');
    expect(t.record().chat).toMatchObject({ state: 'ended', outcome: 'answered', aware: true, verified: 'approved' });
    expect(t.dms()).toContain(STEP_UP_ASK);
    expect(t.duo.calls).toEqual([
      { method: 'startPush', arg: HAROLD },
      { method: 'pushStatus', arg: `${HAROLD}#1` },
      { method: 'pushStatus', arg: `${HAROLD}#1` },
    ]);
    expect(t.system()).toEqual([
      `Duo push 1 sent to ${HAROLD} (txid ${HAROLD}#1).`,
      'Duo push 1: approved (approved on the phone).',
      expect.stringMatching(/^Summary: /),
    ]);
    const summary = t.thread().find((text) => text?.startsWith('Here is the summary')) ?? '';
    expect(summary).toContain('*verified* by an approved Duo push');
    expect(t.thread()).toContain('_Step-up: Duo push 1 approved (approved on the phone)._');
    expect(t.lastUpdate()).toContain('*verified* by an approved Duo push');
    const updates = t.slack.calls.filter((c) => c.method === 'update').map((c) => JSON.stringify(c.blocks));
    expect(updates.some((b) => b.includes('said it was them: waiting for them to approve a Duo push'))).toBe(true);
    expect(t.thread().some((text) => text?.includes(':rotating_light:'))).toBe(false);
  });

  it.each([
    ['denied', 'refused the Duo push'],
    ['fraud', 'reported the Duo push as fraud'],
  ] as const)('%s: ends as denied, a possible account compromise, and escalates', async (result, words) => {
    const t = await harold([{ answers: [{ result, reason: `the person chose ${result}` }] }]);
    await say(t, 'yes it was me');
    expect(t.record().chat).toMatchObject({ state: 'ended', verified: result });
    const verdict = `*denied*: <@U0HAROLD> said it was them but ${words} — treat as a possible account compromise`;
    expect(t.lastUpdate()).toContain(verdict);
    expect(t.thread().at(-1)).toContain(`:rotating_light: ${verdict}.`);
    expect(t.system()).toContain(`Duo push 1: ${result} (the person chose ${result}).`);
  });

  it('timeout, then retry, then approved: a second push only when asked for', async () => {
    const t = await harold([{ answers: [{ result: 'waiting' }] }, {}], { pushTimeoutSeconds: 5 });
    await say(t, 'yes it was me');
    expect(t.record().chat).toMatchObject({ state: 'active', stepUp: { phase: 'timed_out', push: 1 } });
    expect(t.dms().at(-1)).toBe(STEP_UP_TIMED_OUT);
    expect(t.lastUpdate()).toContain(
      '<@U0HAROLD> said it was them: their Duo push timed out; they may reply `retry` for another :iphone:',
    );
    expect(t.system()).toContain('Duo push 1: timeout (no answer within 5 s).');
    expect(t.duo.starts()).toBe(1);
    await say(t, 'ok, on it');
    expect(t.duo.starts()).toBe(1);
    expect(t.thread()).toContainEqual(expect.stringContaining('ok, on it')); // relayed all the same
    await say(t, 'retry');
    expect(t.duo.starts()).toBe(2);
    expect(t.record().chat).toMatchObject({ state: 'ended', verified: 'approved' });
    expect(t.system().filter((line) => line.startsWith('Duo push'))).toEqual([
      `Duo push 1 sent to ${HAROLD} (txid ${HAROLD}#1).`,
      'Duo push 1: timeout (no answer within 5 s).',
      `Duo push 2 sent to ${HAROLD} (txid ${HAROLD}#2).`,
      'Duo push 2: approved (approved on the phone).',
    ]);
  });

  it('not enrolled: no push, unverified with the reason, escalated', async () => {
    const t = await harold([
      { start: { result: 'not_enrolled', reason: 'harold@example.com is not enrolled in Duo' } },
    ]);
    await say(t, 'yes it was me');
    expect(t.record().chat).toMatchObject({ state: 'ended', verified: 'not_enrolled' });
    expect(t.dms()).not.toContain(STEP_UP_ASK);
    expect(t.lastUpdate()).toContain(
      '<@U0HAROLD> said they were *aware*, but *unverified* (harold@example.com is not enrolled in Duo)',
    );
    expect(t.thread().at(-1)).toContain(':rotating_light:');
  });

  it('a verifier that fails: unverified (error) at once, never a second push, escalated; never verified', async () => {
    const t = await harold([{ start: new Error('connect ECONNREFUSED 127.0.0.1:9') }]);
    await say(t, 'yes it was me');
    expect(t.duo.starts()).toBe(1);
    expect(t.record().chat).toMatchObject({ state: 'ended', verified: 'error' });
    expect(t.record().chat.stepUp?.reason).toBe('duo failed: connect ECONNREFUSED 127.0.0.1:9');
    expect(t.thread().at(-1)).toContain(':rotating_light:');
  });

  it('an alert may opt out (no push) or in (with no verifier configured: unverified, never verified)', async () => {
    const out = await harold([], {}, false);
    await say(out, 'yes it was me');
    expect(out.duo.starts()).toBe(0);
    expect(out.record().chat).toMatchObject({ state: 'ended', aware: true });
    expect(out.record().chat.verified).toBeUndefined();

    const t = testApp(); // provider none, no verifier
    const { alert } = await t.app.postAlert({ ...PIVOT, stepUp: true });
    await t.app.request(alert.id, 'start', analyst);
    await say(t, 'yes it was me');
    expect(t.store.data().alerts[alert.id]?.chat).toMatchObject({ state: 'ended', verified: 'error' });
  });

  it("a Slack blip looking up the person's email: the push waits and is sent once Slack answers, no unverified page", async () => {
    const t = await harold([{ answers: [{ result: 'approved', reason: 'approved on the phone' }] }]);
    const userEmail = t.slack.userEmail.bind(t.slack);
    let blips = 1;
    t.slack.userEmail = async (userId) => {
      if (blips-- > 0) {
        throw Object.assign(new Error('An HTTP protocol error occurred: statusCode = 503'), {
          code: 'slack_webapi_http_error',
          statusCode: 503,
        });
      }
      return userEmail(userId);
    };
    await say(t, 'yes it was me');
    expect(t.duo.starts()).toBe(0);
    expect(t.record().chat).toMatchObject({ state: 'active', stepUp: { phase: 'pushing' } });
    expect(t.logs.some((l) => l.includes('step-up push 1 waits for Slack: users.info U0HAROLD failed'))).toBe(true);
    t.clock.advance(1000);
    await t.app.recover();
    await t.app.idle();
    expect(t.duo.starts()).toBe(1);
    expect(t.record().chat).toMatchObject({ state: 'ended', aware: true, verified: 'approved' });
    expect(t.record().escalation).toBeUndefined();
  });

  it('a push still on the phone when an analyst ends the chat is followed: a fraud report escalates as denied', async () => {
    const t = await harold(
      [{ answers: [{ result: 'fraud', reason: 'reported as fraud on the phone' }] }],
      {},
      undefined,
      {
        escalateOn: ['not_aware', 'denied', 'unverified'],
      },
    );
    // The phone answers once the analyst has pressed End Chat.
    const poll = t.duo.verifier.pushStatus.bind(t.duo.verifier);
    let polled: () => void = () => undefined;
    const polling = new Promise<void>((resolve) => {
      polled = resolve;
    });
    let answer: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    t.duo.verifier.pushStatus = async (txid) => {
      polled();
      await answered;
      return poll(txid);
    };
    await t.app.handleInbound(dm('yes it was me'));
    await polling;
    await t.app.request(t.alert.id, 'end', analyst);
    expect(t.record().chat).toMatchObject({
      state: 'ended',
      outcome: 'ended_by_analyst',
      stepUp: { phase: 'waiting' },
    });
    answer();
    await t.app.idle();
    expect(t.record().chat).toMatchObject({ outcome: 'ended_by_analyst', verified: 'fraud' });
    expect(t.record().escalation).toMatchObject({ outcome: 'denied', severity: 'critical' });
    expect(t.thread().some((text) => text?.includes('(after the chat was ended)'))).toBe(true);
    expect(t.lastUpdate()).toContain('possible account compromise');
  });

  it('uses the email local part or the Slack id when username_from says so', async () => {
    const local = await harold([], { usernameFrom: 'email_local_part' });
    await say(local, 'yes it was me');
    expect(local.duo.calls[0]).toEqual({ method: 'startPush', arg: 'harold' });
    const id = await harold([], { usernameFrom: 'slack_id' });
    await say(id, 'yes it was me');
    expect(id.duo.calls[0]).toEqual({ method: 'startPush', arg: 'U0HAROLD' });
  });

  it("sends no push to a person whose Slack email is at none of email_domains: a guest's bob is not your bob", async () => {
    const ours = await harold([], { usernameFrom: 'email_local_part', emailDomains: ['example.com'] });
    await say(ours, 'yes it was me');
    expect(ours.duo.calls[0]).toEqual({ method: 'startPush', arg: 'harold' });
    // harold@example.com, seen by an irbot whose own domain is corp.example: a Slack Connect guest.
    const guest = await harold([], { usernameFrom: 'email_local_part', emailDomains: ['corp.example'] });
    await say(guest, 'yes it was me');
    expect(guest.duo.starts()).toBe(0);
    expect(guest.record().chat).toMatchObject({ state: 'ended', verified: 'error' });
    expect(guest.record().chat.stepUp?.reason).toContain(
      "U0HAROLD's Slack email is at example.com, none of step_up.email_domains",
    );
    expect(guest.thread().at(-1)).toContain(':rotating_light:');
  });
});

describe('step-up across a crash', () => {
  /** The chat as a process left it when it died while doing its verify lane's head. */
  async function crashedWhile(doing: 'StartPush' | 'PollPush') {
    const t = await harold([{ answers: [{ result: 'approved', reason: 'approved on the phone' }] }, {}]);
    const txid = `${HAROLD}#1`;
    await t.store.transact((data) => {
      const record = data.alerts[t.alert.id] as AlertRecord;
      const since = t.clock.now().toISOString();
      record.chat = {
        ...record.chat,
        personMessages: 1,
        classifiedUpTo: 1,
        stepUp:
          doing === 'StartPush' ? { phase: 'pushing', push: 1, since } : { phase: 'waiting', push: 1, txid, since },
      };
      const effect =
        doing === 'StartPush' ? { type: 'StartPush' as const, push: 1 } : { type: 'PollPush' as const, push: 1, txid };
      // A pid no process has: the claim of a process that died.
      record.outbox.push({
        seq: record.nextSeq++,
        effect,
        claim: { pid: 2 ** 22 + 1, run: 'dead', at: since },
      });
    });
    // The txid was pushed by the dead process: the verifier knows it.
    if (doing === 'PollPush') await t.duo.verifier.startPush({ username: HAROLD, alertName: 'x', alertId: 'x' });
    t.duo.calls.length = 0;
    await t.app.recover();
    await t.app.idle();
    return t;
  }

  it('a push being polled is polled again by its txid, never sent again', async () => {
    const t = await crashedWhile('PollPush');
    expect(t.duo.calls).toEqual([{ method: 'pushStatus', arg: `${HAROLD}#1` }]);
    expect(t.record().chat).toMatchObject({ state: 'ended', verified: 'approved' });
  });

  it('a process that stops while a push waits leaves it queued; the next one polls the same txid', async () => {
    const t = await harold([{ answers: [{ result: 'waiting' }] }]);
    let polled: () => void = () => undefined;
    const polling = new Promise<void>((resolve) => {
      polled = resolve;
    });
    const first = t.duo.verifier.pushStatus.bind(t.duo.verifier);
    // Duo's long poll: the answer does not come while this process runs.
    t.duo.verifier.pushStatus = async (txid) => {
      polled();
      await first(txid);
      return new Promise<never>(() => undefined);
    };
    await t.app.handleInbound(dm('yes it was me'));
    await polling;
    t.app.halt();
    await t.app.idle();
    const [left] = t.record().outbox;
    expect(left).toMatchObject({ effect: { type: 'PollPush', push: 1, txid: `${HAROLD}#1` } });
    expect(left?.claim).toBeUndefined();

    const calls: string[] = [];
    const verifier: Verifier = {
      provider: 'duo',
      startPush: async () => {
        calls.push('startPush');
        return { txid: 'another' };
      },
      pushStatus: async (txid) => {
        calls.push(`pushStatus ${txid}`);
        return { result: 'approved', reason: 'approved on the phone' };
      },
    };
    const next = new App({ ...t.ports, verifier }, t.options);
    t.clock.advance(1000);
    await next.recover();
    await next.idle();
    expect(calls).toEqual([`pushStatus ${HAROLD}#1`]);
    expect(t.record().chat).toMatchObject({ state: 'ended', verified: 'approved' });
  });

  it('a push being sent is not sent again unasked: the person may ask for another with retry', async () => {
    const t = await crashedWhile('StartPush');
    expect(t.duo.starts()).toBe(0);
    expect(t.record().chat).toMatchObject({ state: 'active', stepUp: { phase: 'timed_out' } });
    expect(t.dms().at(-1)).toBe(STEP_UP_TIMED_OUT);
    await say(t, 'retry');
    expect(t.duo.starts()).toBe(1);
  });
});
