// The pacer spends Slack's budget and no more, in order, per method and channel — on a fake clock.
import { describe, expect, it } from 'vitest';
import { type Bucket, type BucketLimit, type Budget, shut, takeToken } from '../../../src/slack/budget.js';
import { createPacer, MAX_DEFER_MS, NETWORK_JITTER_MS } from '../../../src/slack/pacer.js';

/** A clock that moves only when the pacer sleeps (or the test moves it on); a sleep yields to other callers first. */
function fakeTime() {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      await new Promise((resolve) => setImmediate(resolve));
      now += ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('pacer', () => {
  it('lets a burst of closing chats’ posts through, then one post a second per channel', async () => {
    const time = fakeTime();
    // Slack's burst of 4, less the token kept back (see the next test): 3 at once.
    const pacer = createPacer({ ...time, limits: { 'chat.postMessage': { perMinute: 60, burst: 4, per: 'channel' } } });
    const waits: number[] = [];
    const final = () => true;
    for (let i = 0; i < 6; i++) waits.push(Math.round(await pacer.take('chat.postMessage', 'C0FEED', final)));
    expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
    expect(time.now()).toBeGreaterThanOrEqual(3000);
    expect(time.now()).toBeLessThan(3100); // 1/s less the 2 % margin, not a second more
  });

  it('keeps one token of Slack’s burst back, so that calls reaching Slack bunched still fit; a burst of one stays', async () => {
    const time = fakeTime();
    const limits = {
      'chat.postMessage': { perMinute: 60, burst: 3, per: 'channel' },
      'conversations.history': { perMinute: 1, burst: 1, per: 'workspace' },
    } as const;
    const pacer = createPacer({ ...time, limits });
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) waits.push(Math.round(await pacer.take('chat.postMessage', 'U0HAROLD')));
    expect(waits.slice(0, 2)).toEqual([0, 0]);
    expect(waits[2]).toBeGreaterThanOrEqual(1000);
    expect(await pacer.take('conversations.history')).toBe(0);
  });

  it('keeps channels apart: a DM never waits behind the feed channel', async () => {
    const time = fakeTime();
    const pacer = createPacer({ ...time, limits: { 'chat.postMessage': { perMinute: 60, burst: 1, per: 'channel' } } });
    await pacer.take('chat.postMessage', 'C0FEED');
    let feedDone = false;
    const feed = pacer.take('chat.postMessage', 'C0FEED').then(() => {
      feedDone = true;
    });
    expect(await pacer.take('chat.postMessage', 'U0HAROLD')).toBe(0);
    expect(feedDone).toBe(false);
    await feed;
  });

  it('serves calls in the order they asked', async () => {
    const time = fakeTime();
    const pacer = createPacer({ ...time, limits: { 'chat.update': { perMinute: 50, burst: 1, per: 'workspace' } } });
    const order: number[] = [];
    await Promise.all([1, 2, 3, 4].map((n) => pacer.take('chat.update').then(() => order.push(n))));
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('gives the next token to a final call before live ones that asked earlier, asking as it hands it out', async () => {
    const time = fakeTime();
    const pacer = createPacer({ ...time, limits: { 'chat.update': { perMinute: 60, burst: 1, per: 'workspace' } } });
    await pacer.take('chat.update'); // the burst is spent
    const order: string[] = [];
    let closed = false;
    const waits = [
      pacer.take('chat.update').then(() => order.push('live 1')),
      pacer.take('chat.update', undefined, () => closed).then(() => order.push('live 2, closed meanwhile')),
      pacer.take('chat.update').then(() => order.push('live 3')),
      pacer.take('chat.update', undefined, () => true).then(() => order.push('final')),
    ];
    closed = true;
    await Promise.all(waits);
    expect(order).toEqual(['live 2, closed meanwhile', 'final', 'live 1', 'live 3']);
    expect(time.now()).toBeLessThan(4100); // still one a second: the order changes, not the pace
  });

  it('serves a call taken over from a run that died before every call waiting, final ones too', async () => {
    const time = fakeTime();
    const pacer = createPacer({
      ...time,
      limits: { 'chat.postMessage': { perMinute: 60, burst: 1, per: 'channel' } },
    });
    await pacer.take('chat.postMessage', 'C0FEED'); // the burst is spent
    const order: string[] = [];
    const final = () => true;
    const waits = [
      pacer.take('chat.postMessage', 'C0FEED', final).then(() => order.push('final 1')),
      pacer.take('chat.postMessage', 'C0FEED', final).then(() => order.push('final 2')),
      pacer.take('chat.postMessage', 'C0FEED', final, true).then(() => order.push('taken over 1')),
      pacer.take('chat.postMessage', 'C0FEED', final).then(() => order.push('final 3')),
      pacer.take('chat.postMessage', 'C0FEED', final, true).then(() => order.push('taken over 2')),
    ];
    await Promise.all(waits);
    // Among themselves in the order they asked: a dead run's oldest work taken over goes first.
    expect(order).toEqual(['taken over 1', 'taken over 2', 'final 1', 'final 2', 'final 3']);
    expect(time.now()).toBeLessThan(5200); // still one a second
  });

  it('keeps the burst for closing chats: other calls use only what a full bucket would waste', async () => {
    const time = fakeTime();
    // Slack's bursts of 4: 3 for the pacer (one token is kept back).
    const limits = {
      'chat.update': { perMinute: 60, burst: 4, per: 'workspace' },
      'chat.postMessage': { perMinute: 60, burst: 4, per: 'channel' },
    } as const;
    const pacer = createPacer({ ...time, limits });
    const final = () => pacer.take('chat.update', undefined, () => true);
    expect(await pacer.take('chat.update', undefined, () => false)).toBe(0); // a full bucket: it may
    const before = time.now();
    await pacer.take('chat.update', undefined, () => false); // two tokens left: it waits for a full bucket
    expect(time.now() - before).toBeGreaterThanOrEqual(1000);
    expect(time.now() - before).toBeLessThan(1100);
    // Closing chats find the burst there.
    expect([await final(), await final()]).toEqual([0, 0]);
    // A channel's own calls that are no chat's relay (a DM) take any token: nothing is kept from them.
    for (let i = 0; i < 3; i++) expect(await pacer.take('chat.postMessage', 'U0HAROLD')).toBe(0);
  });

  it('lets a live call wait behind final ones five minutes at most', async () => {
    const time = fakeTime();
    const pacer = createPacer({ ...time, limits: { 'chat.update': { perMinute: 60, burst: 1, per: 'workspace' } } });
    await pacer.take('chat.update');
    let liveAt = -1;
    const live = pacer.take('chat.update').then(() => {
      liveAt = time.now();
    });
    // Closing chats keep coming as fast as the budget: two always wait, so without a limit the live one starves.
    const finals: Promise<unknown>[] = [];
    const addFinal = (): void => {
      const next = pacer
        .take('chat.update', undefined, () => true)
        .then(() => {
          if (liveAt < 0) addFinal();
        });
      finals.push(next);
    };
    addFinal();
    addFinal();
    await live;
    expect(liveAt).toBeGreaterThanOrEqual(MAX_DEFER_MS);
    expect(liveAt).toBeLessThan(MAX_DEFER_MS + 5000);
    for (let i = 0; i < finals.length; i++) await finals[i];
  });

  it('lets overdue calls and closing chats’ calls take turns: a backlog of overdue ones holds no verdict back', async () => {
    const time = fakeTime();
    const pacer = createPacer({ ...time, limits: { 'chat.update': { perMinute: 60, burst: 1, per: 'workspace' } } });
    await pacer.take('chat.update'); // the burst is spent
    const order: string[] = [];
    // "Chat started" updates of a campaign, all asked at once, and all overdue by the time the chats close.
    const live = [1, 2, 3].map((n) => pacer.take('chat.update').then(() => order.push(`live ${n}`)));
    time.advance(MAX_DEFER_MS);
    const final = () => true;
    const finals = [1, 2, 3].map((n) =>
      pacer.take('chat.update', undefined, final).then(() => order.push(`final ${n}`)),
    );
    await Promise.all([...live, ...finals]);
    expect(order).toEqual(['live 1', 'final 1', 'live 2', 'final 2', 'live 3', 'final 3']);
  });

  it('holds a bucket back after a 429 even while it waits for a token', async () => {
    const time = fakeTime();
    const pacer = createPacer({ ...time, limits: { 'chat.update': { perMinute: 60, burst: 1, per: 'workspace' } } });
    await pacer.take('chat.update');
    const waiting = pacer.take('chat.update'); // sleeps about a second for its token
    pacer.backOff('chat.update', undefined, 30_000);
    await waiting;
    expect(time.now()).toBeGreaterThanOrEqual(30_000);
  });

  it('lets a call that held its token briefly go; one held long gives it back and waits first in line', async () => {
    const time = fakeTime();
    const pacer = createPacer({ ...time, limits: { 'chat.update': { perMinute: 60, burst: 1, per: 'workspace' } } });
    await pacer.take('chat.update');
    // Half a token's time (~510 ms at 60 a minute less the margin) or less: it goes as it is.
    expect(pacer.retake('chat.update', undefined, 400)).toBeNull();
    const order: string[] = [];
    const queued = pacer.take('chat.update').then(() => order.push('queued'));
    const late = pacer.retake('chat.update', undefined, 2_000)?.then(() => order.push('late'));
    // Given back, the token is the late call's, ahead of the call that was waiting: the two are done after two
    // tokens' time (one each), where a late call sent to the back would take three.
    await Promise.all([late, queued]);
    expect(order).toEqual(['late', 'queued']);
    expect(time.now()).toBeLessThan(2_100);
    expect(pacer.retake('reactions.add', undefined, 60_000)).toBeNull();
  });

  it('lets a call held within a network path’s jitter go, however fast the limits run', async () => {
    const time = fakeTime();
    // Sped up fifty times, half a token's time is about 10 ms: shorter than any network's jitter.
    const pacer = createPacer({
      ...time,
      scale: 50,
      limits: { 'chat.update': { perMinute: 60, burst: 1, per: 'workspace' } },
    });
    await pacer.take('chat.update');
    expect(pacer.retake('chat.update', undefined, NETWORK_JITTER_MS)).toBeNull();
    // Held longer, it gives the token back and takes it again.
    const late = pacer.retake('chat.update', undefined, NETWORK_JITTER_MS + 1);
    expect(late).not.toBeNull();
    await late;
  });

  it('keeps the age of a call that gives its token back: calls overdue since after it asked do not pass it', async () => {
    const time = fakeTime();
    const pacer = createPacer({ ...time, limits: { 'chat.update': { perMinute: 60, burst: 1, per: 'workspace' } } });
    await pacer.take('chat.update'); // the burst is spent
    const order: string[] = [];
    const first = pacer.take('chat.update'); // asks at 0, before the others
    const others = ['second', 'third', 'fourth'].map((name) => pacer.take('chat.update').then(() => order.push(name)));
    const waited = await first;
    // As in a campaign that asks a thousand updates at once: by now every one still waiting is overdue.
    time.advance(MAX_DEFER_MS);
    const heldMs = MAX_DEFER_MS;
    const again = pacer.retake('chat.update', undefined, heldMs, undefined, waited)?.then(() => order.push('first'));
    expect(again).toBeDefined();
    await Promise.all([again, ...others]);
    // With the age of its retake, it came after the three overdue calls: a retake storm, where none reached Slack.
    expect(order).toEqual(['first', 'second', 'third', 'fourth']);
  });

  it('wakes a bucket that sleeps until its next token when a token comes back: it does not lie unused', async () => {
    let now = 0;
    const sleeps: Array<{ ms: number; end: () => void }> = [];
    // A sleep that ends only when woken, or when the test moves the clock on.
    const sleep = (ms: number, wake: AbortSignal) =>
      new Promise<void>((resolve) => {
        sleeps.push({ ms, end: resolve });
        wake.addEventListener('abort', () => resolve(), { once: true });
      });
    const limits = { 'chat.update': { perMinute: 60, burst: 1, per: 'workspace' as const } };
    const pacer = createPacer({ now: () => now, sleep, limits });
    await pacer.take('chat.update');
    let queuedDone = false;
    const queued = pacer.take('chat.update').then(() => {
      queuedDone = true;
    });
    await new Promise((resolve) => setImmediate(resolve)); // its bucket's loop now sleeps for its token
    expect(sleeps).toHaveLength(1);
    // The token given back goes to the late call at once, though no time has passed.
    expect(await pacer.retake('chat.update', undefined, 2_000)).toBe(0);
    expect(queuedDone).toBe(false);
    while (!queuedDone) {
      now += 1_000;
      for (const pending of sleeps.splice(0)) pending.end();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await queued;
  });

  it('scales every limit by one factor, and leaves unknown methods alone', async () => {
    const time = fakeTime();
    const pacer = createPacer({
      ...time,
      scale: 60,
      limits: { 'chat.update': { perMinute: 60, burst: 1, per: 'workspace' } },
    });
    await pacer.take('chat.update');
    await pacer.take('chat.update');
    expect(time.now()).toBeLessThan(20); // 60/s instead of 1/s
    expect(await pacer.take('reactions.add')).toBe(0);
  });
});

/**
 * A budget that takes tokens ahead, as the PostgreSQL one does (irbot_take_token_ahead, in memory), and says what it
 * was asked.
 */
function aheadBudget(now: () => number) {
  const buckets = new Map<string, Bucket>();
  const asked: string[] = [];
  const budget: Budget = {
    tracked: () => buckets.size,
    take(key, limit, whole) {
      asked.push('take');
      const { bucket, wait } = takeToken(buckets.get(key), limit, whole, now());
      buckets.set(key, bucket);
      return wait;
    },
    async takeAhead(key: string, limit: BucketLimit) {
      asked.push('ahead');
      const { bucket, wait } = takeToken(buckets.get(key), limit, false, now());
      buckets.set(key, bucket);
      if (wait === 0 || bucket.until !== undefined) return { wait, reserved: false };
      bucket.tokens -= 1;
      return { wait, reserved: true };
    },
    backOff(key, _limit, ms) {
      buckets.set(key, shut(buckets.get(key), ms, now()));
    },
    refund: () => undefined,
  };
  return { budget, asked };
}

describe('pacer with a budget that takes tokens ahead', () => {
  const limits = { 'chat.postMessage': { perMinute: 60, burst: 2, per: 'channel' } } as const;

  it('asks once for each call, those that wait too, and serves them in order at the budget’s pace', async () => {
    const time = fakeTime();
    const { budget, asked } = aheadBudget(time.now);
    const pacer = createPacer({ ...time, limits, budget });
    const done: number[] = [];
    const final = () => true;
    await Promise.all(
      [0, 1, 2, 3].map((i) => pacer.take('chat.postMessage', 'C0FEED', final).then(() => done.push(i))),
    );
    expect(done).toEqual([0, 1, 2, 3]);
    expect(asked).toEqual(['ahead', 'ahead', 'ahead', 'ahead']);
    // One token of the burst of two (one kept back), then one a second less the margin.
    expect(time.now()).toBeGreaterThanOrEqual(3000);
    expect(time.now()).toBeLessThan(3100);
  });

  it('does not spend a token taken ahead after a 429 met meanwhile: the call waits the 429 out', async () => {
    const time = fakeTime();
    const { budget, asked } = aheadBudget(time.now);
    const pacer = createPacer({ ...time, limits, budget });
    await pacer.take('chat.postMessage', 'C0FEED', () => true);
    const second = pacer.take('chat.postMessage', 'C0FEED', () => true);
    // The second call's token is taken ahead (due in a second); Slack answers another call 429, 30 s.
    pacer.backOff('chat.postMessage', 'C0FEED', 30_000);
    await second;
    expect(time.now()).toBeGreaterThanOrEqual(30_000);
    expect(asked.length).toBeGreaterThanOrEqual(3);
  });

  it('keeps a token taken ahead when woken early by a call that goes first: it spends it when due', async () => {
    // A fake clock whose sleeps can be cut short: woken, 100 ms have passed; else the whole sleep.
    let clock = 0;
    const sleep = (ms: number, wake: AbortSignal) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          clock += ms;
          resolve();
        }, 5);
        wake.addEventListener('abort', () => {
          clearTimeout(timer);
          clock += Math.min(ms, 100);
          resolve();
        });
      });
    const now = () => clock;
    const { budget, asked } = aheadBudget(now);
    const pacer = createPacer({ now, sleep, limits, budget });
    const final = () => true;
    await pacer.take('chat.postMessage', 'C0FEED', final);
    const order: string[] = [];
    const waiting = pacer.take('chat.postMessage', 'C0FEED', final).then(() => order.push('waiting'));
    await new Promise((resolve) => setImmediate(resolve));
    // Work taken over from a replica that died goes first: it wakes the loop, asleep on the token it took ahead.
    const first = pacer.take('chat.postMessage', 'C0FEED', final, true).then(() => order.push('first'));
    await Promise.all([waiting, first]);
    expect(order).toEqual(['first', 'waiting']);
    // Three tokens, three asks: the one taken ahead was not lost to the wake-up.
    expect(asked).toEqual(['ahead', 'ahead', 'ahead']);
    expect(clock).toBeLessThan(2100);
  });

  it('takes only from a full bucket, not ahead, for calls that wait for spare tokens', async () => {
    const time = fakeTime();
    const { budget, asked } = aheadBudget(time.now);
    const pacer = createPacer({
      ...time,
      limits: { 'chat.update': { perMinute: 60, burst: 3, per: 'workspace' } },
      budget,
    });
    await pacer.take('chat.update', undefined, () => false);
    await pacer.take('chat.update', undefined, () => false);
    expect(asked).toEqual(['take', 'take', 'take']);
  });
});

describe('pacer memory', () => {
  it('forgets buckets that refilled, so a daemon meeting many people stays flat', async () => {
    const time = fakeTime();
    const limits = { 'chat.postMessage': { perMinute: 60, burst: 1, per: 'channel' as const } };
    const pacer = createPacer({ ...time, limits });
    for (let i = 0; i < 999; i++) await pacer.take('chat.postMessage', `U${i}`);
    expect(pacer.tracked()).toBe(999);
    await time.sleep(5_000); // every bucket has refilled
    await pacer.take('chat.postMessage', 'C0FEED'); // the 1,000th take sweeps
    expect(pacer.tracked()).toBeLessThanOrEqual(1);
    const before = time.now();
    await pacer.take('chat.postMessage', 'C0FEED');
    expect(time.now() - before).toBeGreaterThan(900); // a bucket in use is kept, and still paces
  });
});
