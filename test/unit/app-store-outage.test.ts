// A store that fails right after a Slack call (a database restart between the post and its record): the post
// stays claimed by this App, and when the App takes it again it asks Slack whether it landed, never posting twice.
import { expect, it } from 'vitest';
import type { SlackPort } from '../../src/slack/port.js';
import type { Store } from '../../src/store/port.js';
import { PIVOT, testApp } from '../support/memory-ports.js';

const analyst = { id: 'U0ANALYST', via: 'slack' } as const;

/** The greeting DM, and its relay into the alert's thread. */
const CASES = [
  { what: 'a DM', isIt: (args: Parameters<SlackPort['post']>[0]) => args.channel === 'U0HAROLD' },
  { what: 'a relay', isIt: (args: Parameters<SlackPort['post']>[0]) => /^Sent message/.test(args.text) },
];

it.each(CASES)(
  'asks Slack whether $what it posted landed when recording it failed, and does not post it again',
  async ({ isIt }) => {
    let failNext = false;
    let outage = true;
    let store: Store | undefined;
    let slack: SlackPort | undefined;
    const t = testApp({}, undefined, undefined, {
      // The DM goes out; the store fails the transaction that would have recorded it.
      slack: new Proxy({} as SlackPort, {
        get: (_, name: keyof SlackPort) =>
          name === 'post'
            ? async (args: Parameters<SlackPort['post']>[0]) => {
                const posted = await slack?.post(args);
                if (isIt(args) && outage) {
                  outage = false;
                  failNext = true;
                }
                return posted;
              }
            : slack?.[name],
      }),
      store: new Proxy({} as Store, {
        get: (_, name: keyof Store) =>
          name === 'transact'
            ? (...args: Parameters<Store['transact']>) => {
                if (!failNext) return store?.transact(...args);
                failNext = false;
                return Promise.reject(new Error('PostgreSQL error 57P01: terminating connection'));
              }
            : store?.[name],
      }),
    });
    store = t.store;
    slack = t.slack;
    const posts = () =>
      t.slack.calls.filter((c) => c.method === 'post' && isIt({ channel: c.channel ?? '', text: c.text ?? '' }));
    const { alert } = await t.app.postAlert(PIVOT);
    await t.app.request(alert.id, 'start', analyst).catch(() => undefined);
    await t.app.idle();
    expect(posts()).toHaveLength(1);

    await t.app.recover();
    await t.app.idle();
    expect(posts()).toHaveLength(1);
    expect(t.store.data().alerts[alert.id]?.outbox).toEqual([]);
  },
);
