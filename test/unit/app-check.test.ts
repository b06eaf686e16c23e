// "Did this post land before the crash?": once a post may have landed, irbot posts it only after Slack answered that
// question, however often asking fails; the question is paced like every call. In-memory ports and a fake clock.
import { describe, expect, it } from 'vitest';
import type { Pacer } from '../../src/slack/pacer.js';
import type { SlackPort } from '../../src/slack/port.js';
import type { OutboxItem } from '../../src/store/port.js';
import { PIVOT, testApp } from '../support/memory-ports.js';

const analyst = { id: 'U0ANALYST', via: 'slack' } as const;
/** A pid no process has: the claim of a crashed irbot. */
const DEAD = 2 ** 22 + 12345;
const CRASHED_AT = '2026-11-27T10:00:00.000Z';

const rateLimited = (seconds: number) =>
  Object.assign(new Error('A rate limit was exceeded'), {
    code: 'slack_webapi_rate_limited_error',
    retryAfter: seconds,
  });
const network = () => Object.assign(new Error('socket hang up'), { code: 'slack_webapi_request_error' });

type Answer = boolean | Error;

/** A started chat whose Slack answers the landed-check as scripted, and a record of what happened, in order. */
async function withCheck(answers: Answer[], pacer?: Pacer) {
  const t = testApp({}, undefined, pacer);
  const { alert } = await t.app.postAlert(PIVOT);
  await t.app.request(alert.id, 'start', analyst);
  const events: string[] = [];
  const checks: Parameters<SlackPort['wasPosted']>[0][] = [];
  const post = t.slack.post.bind(t.slack);
  const attempts: string[] = [];
  t.slack.post = async (args) => {
    if (args.key) attempts.push(args.key);
    const posted = await post(args);
    if (args.key) events.push(`post ${args.key}`);
    return posted;
  };
  t.slack.wasPosted = async (args) => {
    checks.push(args);
    await args.beforeCall?.(args.threadTs ? 'conversations.replies' : 'conversations.history');
    const answer = answers.shift() ?? false;
    events.push(`check ${args.key}: ${answer instanceof Error ? answer.message : answer}`);
    if (answer instanceof Error) throw answer;
    return answer;
  };
  const left = async (...items: Omit<OutboxItem, 'seq'>[]) =>
    t.store.transact((data) => {
      const record = data.alerts[alert.id];
      if (!record) throw new Error('no alert');
      for (const [i, item] of items.entries()) record.outbox.push({ seq: 99 + i, ...item });
    });
  const outbox = () => t.store.data().alerts[alert.id]?.outbox ?? [];
  return { ...t, alert, events, checks, attempts, left, outbox };
}

const crashedNote = (text = 'left by a crash'): Omit<OutboxItem, 'seq'> => ({
  effect: { type: 'PostInThread', kind: 'note', text },
  claim: { pid: DEAD, at: CRASHED_AT },
});

describe('the check of a post a dead process may have sent', () => {
  it('is asked again after a 429 (Retry-After), and the post never goes out without an answer', async () => {
    const t = await withCheck([rateLimited(30), true]);
    await t.left(crashedNote());
    await t.app.recover();
    expect(t.events).toEqual([`check ${t.alert.id}:99: A rate limit was exceeded`]);
    expect(t.outbox()[0]).toMatchObject({ seq: 99, checkSince: CRASHED_AT, retryAt: '2026-11-27T10:00:30.000Z' });
    t.clock.advance(30_000);
    await t.app.recover();
    // It had landed: asked again, it is recorded as done and not posted a second time.
    expect(t.events).toHaveLength(2);
    expect(t.events[1]).toBe(`check ${t.alert.id}:99: true`);
    expect(t.outbox()).toEqual([]);
  });

  it('keeps the window of the first attempt when a later post fails unseen again, so what landed then is found', async () => {
    const t = await withCheck([false]);
    await t.left(crashedNote());
    const post = t.slack.post;
    t.slack.post = async (args) => {
      if (args.key === `${t.alert.id}:99`) throw network();
      return post(args);
    };
    t.clock.advance(120_000); // taken over two minutes after the crash
    await t.app.recover();
    expect(t.events).toEqual([`check ${t.alert.id}:99: false`]);
    // Moved to this attempt, the window could leave out a part the crashed process had posted.
    expect(t.outbox()[0]).toMatchObject({ seq: 99, checkSince: CRASHED_AT });
  });

  it('keeps the post waiting when the check fails, retries it with backoff, and posts once after it answered', async () => {
    const t = await withCheck([network(), false]);
    await t.left(crashedNote());
    await t.app.recover();
    expect(t.events).toEqual([`check ${t.alert.id}:99: socket hang up`]);
    expect(t.outbox()[0]).toMatchObject({ attempts: 1, checkSince: CRASHED_AT });
    expect(t.logs.some((l) => l.includes('checking whether its PostInThread landed failed with network error'))).toBe(
      true,
    );
    t.clock.advance(1000);
    await t.app.recover();
    expect(t.events.slice(1)).toEqual([`check ${t.alert.id}:99: false`, `post ${t.alert.id}:99`]);
    expect(t.outbox()).toEqual([]);
  });

  it('asks since the dead claim was taken, and is paced: a 429 holds back the check’s own bucket', async () => {
    const taken: string[] = [];
    const backOffs: string[] = [];
    const pacer: Pacer = {
      take: async (method) => {
        taken.push(method);
        return 0;
      },
      backOff: (method, _channel, ms) => backOffs.push(`${method} ${ms}`),
      retake: () => null,
    };
    const t = await withCheck([rateLimited(7)], pacer);
    await t.left(crashedNote());
    taken.length = 0;
    await t.app.recover();
    expect(t.checks[0]).toMatchObject({ channel: 'C0FEED', threadTs: t.alert.ts, since: CRASHED_AT });
    expect(taken).toContain('conversations.replies');
    expect(backOffs).toEqual(['conversations.replies 7000']);
  });

  it('goes before every call in the feed channel’s queue once checked, closing chats’ too: it has waited a lease', async () => {
    const takes: string[] = [];
    const pacer: Pacer = {
      take: async (method, channel, isFinal, first) => {
        if (channel === 'C0FEED' || method === 'chat.update')
          takes.push(`${method} final ${isFinal?.()} first ${first}`);
        return 0;
      },
      backOff: () => undefined,
      retake: () => null,
    };
    const t = await withCheck([false], pacer);
    await t.app.idle();
    takes.length = 0;
    // Its chat is still open: only the take-over makes it go first.
    expect(t.store.data().alerts[t.alert.id]?.chat.state).toBe('active');
    await t.left(crashedNote(), { effect: { type: 'UpdateAlert' }, claim: { pid: DEAD, at: CRASHED_AT } });
    await t.app.recover();
    expect(t.events).toEqual([`check ${t.alert.id}:99: false`, `post ${t.alert.id}:99`]);
    // The alert message's update taken over needs no check (an update is the same twice): it goes first too.
    expect(takes.sort()).toEqual(['chat.postMessage final true first true', 'chat.update final true first true']);
  });

  it('comes before the post’s token: a post that had landed takes none, one that had not takes it once checked', async () => {
    const order: string[] = [];
    const pacer: Pacer = {
      take: async (method, channel) => {
        if (method !== 'chat.postMessage' || channel === 'C0FEED') order.push(`take ${method}`);
        return 0;
      },
      backOff: () => undefined,
      retake: () => null,
    };
    const t = await withCheck([true, false], pacer);
    await t.app.idle();
    order.length = 0;
    await t.left(crashedNote('landed before the crash'));
    await t.app.recover();
    expect(order).toEqual(['take conversations.replies']);
    order.length = 0;
    await t.left(crashedNote('not sent before the crash'));
    await t.app.recover();
    expect(order).toEqual(['take conversations.replies', 'take chat.postMessage']);
    expect(t.events.slice(1)).toEqual([`check ${t.alert.id}:99: false`, `post ${t.alert.id}:99`]);
  });

  it('is made for a DM too, in the DM, before it is sent', async () => {
    const t = await withCheck([rateLimited(0), false]);
    await t.left({
      effect: { type: 'SendDm', text: 'are you there?', from: 'bot' },
      claim: { pid: DEAD, at: CRASHED_AT },
    });
    await t.app.recover();
    expect(t.checks[0]).toMatchObject({ channel: 'U0HAROLD', since: CRASHED_AT });
    expect(t.checks[0]?.threadTs).toBeUndefined();
    const dmEvents = t.events.filter((e) => e.includes(':99'));
    expect(dmEvents).toEqual([
      `check ${t.alert.id}:99: A rate limit was exceeded`,
      `check ${t.alert.id}:99: false`,
      `post ${t.alert.id}:99`,
    ]);
  });

  it('treats relays a dead process sent as one message as one: none posted again, what came later posted', async () => {
    const t = await withCheck([true, false]);
    await t.left(crashedNote('first'), crashedNote('second'), {
      effect: { type: 'PostInThread', kind: 'note', text: 'later' },
    });
    await t.app.recover();
    expect(t.events).toEqual([`check ${t.alert.id}:99: true`, `post ${t.alert.id}:101`]);
    expect(t.outbox()).toEqual([]);
  });
});

describe('a post that failed unseen', () => {
  it('is checked before it is tried again: one that had landed is not sent twice', async () => {
    const t = await withCheck([true]);
    t.clock.advance(5000);
    t.slack.failNext(network());
    t.attempts.length = 0;
    await t.app.request(t.alert.id, 'end', analyst); // the first post fails, though Slack may have taken it
    const [failed] = t.attempts;
    expect(t.events).not.toContain(`post ${failed}`);
    t.clock.advance(1000);
    await t.app.recover();
    expect(t.checks).toEqual([expect.objectContaining({ key: failed, since: '2026-11-27T10:00:05.000Z' })]);
    expect(t.events).toContain(`check ${failed}: true`);
    expect(t.events).not.toContain(`post ${failed}`);
    await t.app.idle();
    expect(t.outbox()).toEqual([]);
  });

  it('is not checked after a 429: Slack took nothing', async () => {
    const t = await withCheck([]);
    t.slack.failNext(rateLimited(0));
    await t.app.request(t.alert.id, 'end', analyst);
    expect(t.checks).toEqual([]);
    expect(t.events.some((e) => e.startsWith('post'))).toBe(true);
  });
});
