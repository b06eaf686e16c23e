// Two Apps on one store and one Slack, as two replicas would be: claims carry a lease, renewed while the work is
// slow; a live lease is left alone, an expired one is taken over (asking Slack first whether the post landed), and
// a replica paused past its lease that resumes after another took over posts nothing (fencing).
import { describe, expect, it } from 'vitest';
import { App, type Ports } from '../../src/app.js';
import { createOfflineWriter } from '../../src/llm/offline-writer.js';
import type { Writer } from '../../src/llm/port.js';
import type { Pacer } from '../../src/slack/pacer.js';
import type { SlackPort } from '../../src/slack/port.js';
import { PIVOT, testApp } from '../support/memory-ports.js';

const analyst = { id: 'U0ANALYST', via: 'slack' } as const;
const LEASE_MS = 30_000;

/** A promise with its resolve, for a step the test waits for or lets go. */
function signal() {
  let fire: () => void = () => undefined;
  const fired = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { fired, fire };
}

/**
 * Replica A of a pair sharing a store, a Slack and a clock (which is also their monotonic clock, so that moving it
 * is a pause). `a` overrides A's ports, `b` B's (from the plain ones). Timers are kept for the test to run.
 */
function replicas(a: Partial<Ports> = {}, b: (ports: Ports) => Partial<Ports> = () => ({})) {
  const timers: { ms: number; fn: () => void }[] = [];
  const t = testApp({ leaseMs: LEASE_MS });
  const shared: Partial<Ports> = {
    monotonic: () => t.clock.now().getTime(),
    schedule: (ms, fn) => timers.push({ ms, fn }),
  };
  const appA = new App({ ...t.ports, ...shared, ...a }, t.options);
  const appB = new App({ ...t.ports, ...shared, ...b(t.ports) }, t.options);
  const dms = () => t.slack.calls.filter((c) => c.method === 'post' && c.channel === 'U0HAROLD');
  const personHead = () => t.store.data().alerts[alertId()]?.outbox.find((i) => i.effect.type !== 'PostInThread');
  const alertId = () => Object.keys(t.store.data().alerts)[0] ?? '';
  /** Runs the lease renewals that are due (every third of a lease), and waits for their transaction. */
  const renew = async () => {
    for (const timer of timers.splice(0).filter((x) => x.ms === LEASE_MS / 3)) timer.fn();
    await t.store.transact(() => undefined);
  };
  return { ...t, appA, appB, dms, personHead, alertId, renew };
}

describe('leases between replicas', () => {
  it('leaves a live lease alone, and takes over an expired one after asking Slack whether its DM landed', async () => {
    const posted = signal();
    const frozen = new Promise<never>(() => undefined);
    let slack: SlackPort | undefined;
    // A posts the DM, then freezes before it can record it. B's transactions are counted.
    let transactionsOfB = 0;
    const r = replicas(
      {
        slack: new Proxy({} as SlackPort, {
          get: (_, name: keyof SlackPort) =>
            name === 'post'
              ? async (args: Parameters<SlackPort['post']>[0]) => {
                  const done = await slack?.post(args);
                  if (args.channel === 'U0HAROLD') {
                    posted.fire();
                    await frozen;
                  }
                  return done;
                }
              : slack?.[name],
        }),
      },
      ({ store }) => ({
        store: {
          ...store,
          transact: (change, options) => {
            transactionsOfB++;
            return store.transact(change, options);
          },
        },
      }),
    );
    slack = r.slack;
    const { alert } = await r.appA.postAlert(PIVOT);
    void r.appA.request(alert.id, 'start', analyst);
    await posted.fired;
    const claimOfA = r.personHead()?.claim;
    expect(r.personHead()?.effect.type).toBe('SendDm');

    r.clock.advance(LEASE_MS - 1);
    await r.appB.recover();
    await r.appB.idle();
    expect(r.personHead()?.claim).toEqual(claimOfA);
    // Nothing B could take: it did not ask the store in a transaction (each lane drained would be one).
    expect(transactionsOfB).toBe(0);
    expect(r.logs.some((l) => l.includes('had landed'))).toBe(false);

    r.clock.advance(1);
    await r.appB.recover();
    await r.appB.idle();
    expect(r.dms()).toHaveLength(1);
    expect(r.logs.some((l) => l.includes('SendDm had landed before a crash, not sent again'))).toBe(true);
    const record = r.store.data().alerts[alert.id];
    expect(record?.transcript.filter((l) => l.from === 'bot')).toHaveLength(1);
    expect(record?.outbox).toEqual([]);
  });

  it('renews the lease while the work is slow, so that no other replica takes it over', async () => {
    const started = signal();
    const answer = signal();
    let greetings = 0;
    const offline = createOfflineWriter();
    const slowLlm: Writer = {
      ...offline,
      greet: async (facts) => {
        greetings++;
        started.fire();
        await answer.fired;
        return offline.greet(facts);
      },
    };
    const r = replicas({ llm: slowLlm });
    const { alert } = await r.appA.postAlert(PIVOT);
    const requested = r.appA.request(alert.id, 'start', analyst);
    await started.fired;
    const runOfA = r.personHead()?.claim?.run;
    const leaseEnd = () => Date.parse(r.personHead()?.claim?.until ?? '');
    const first = leaseEnd();
    r.clock.advance(LEASE_MS / 3);
    await r.renew();
    expect(leaseEnd()).toBe(first + LEASE_MS / 3);
    r.clock.advance(LEASE_MS / 3);
    await r.renew();
    r.clock.advance(LEASE_MS / 2); // past the first lease, within the renewed one
    await r.appB.recover();
    await r.appB.idle();
    expect(r.personHead()?.claim?.run).toBe(runOfA);
    expect(r.dms()).toHaveLength(0);

    answer.fire();
    await requested;
    await r.appA.idle();
    expect(greetings).toBe(1);
    expect(r.dms()).toHaveLength(1);
  });

  it('a replica paused past its lease that resumes after another took over does not post', async () => {
    const waiting = signal();
    const resume = signal();
    // A reaches the DM, then is paused (like SIGSTOP) while it waits for Slack's budget.
    const pausedPacer: Pacer = {
      backOff: () => undefined,
      retake: () => null,
      take: async (method, channel) => {
        if (method !== 'chat.postMessage' || channel !== 'U0HAROLD') return 0;
        waiting.fire();
        await resume.fired;
        return 0;
      },
    };
    const r = replicas({ pacer: pausedPacer });
    const { alert } = await r.appA.postAlert(PIVOT);
    const requested = r.appA.request(alert.id, 'start', analyst);
    await waiting.fired;

    r.clock.advance(LEASE_MS);
    await r.appB.recover();
    await r.appB.idle();
    expect(r.dms()).toHaveLength(1);

    resume.fire();
    await requested;
    await r.appA.idle();
    expect(r.dms()).toHaveLength(1);
    expect(r.logs.some((l) => l.includes('was taken over by another or is gone; stopping it'))).toBe(true);
    expect(r.store.data().alerts[alert.id]?.transcript.filter((l) => l.from === 'bot')).toHaveLength(1);
  });

  it('sweeping at once, two replicas nudge a silent person once', async () => {
    const r = replicas();
    const { alert } = await r.appA.postAlert(PIVOT);
    await r.appA.request(alert.id, 'start', analyst);
    await r.appA.idle();
    r.clock.advance(60 * 60_000);
    await Promise.all([r.appA.sweep(), r.appB.sweep()]);
    await Promise.all([r.appA.idle(), r.appB.idle()]);
    expect(r.dms()).toHaveLength(2);
    expect(r.store.data().alerts[alert.id]?.chat.nudges).toBe(1);
  });
});
