// In-memory, recording ports for tests of app.ts: a store, a Slack that can be told to fail, a clock to move.
import { App, type AppOptions, type Ports } from '../../src/app.js';
import { createOfflineWriter } from '../../src/llm/offline-writer.js';
import type { Writer } from '../../src/llm/port.js';
import { factsOf } from '../../src/report/facts.js';
import type { Pacer } from '../../src/slack/pacer.js';
import type { Block, SlackPort } from '../../src/slack/port.js';
import { type AlertRecord, emptyStore, type Store, type StoreData } from '../../src/store/port.js';

export function memoryStore(): Store & { data: () => StoreData } {
  let data = emptyStore();
  const archive: AlertRecord[] = [];
  let queue: Promise<unknown> = Promise.resolve();
  return {
    path: ':memory:',
    files: [],
    data: () => data,
    read: async () => structuredClone(data),
    readArchive: async () => structuredClone(archive),
    scanFacts: async (since) => archive.filter((a) => since === undefined || a.createdAt >= since).map(factsOf),
    flush: async () => undefined,
    transact<T>(change: (data: StoreData) => T): Promise<T> {
      const run = queue.then(() => {
        const copy = structuredClone(data);
        const result = change(copy);
        archive.push(...Object.values(copy.archiving ?? {}));
        delete copy.archiving;
        data = copy;
        return result;
      });
      queue = run.catch(() => undefined);
      return run;
    },
  };
}

export interface SlackCall {
  method: 'post' | 'update' | 'ephemeral' | 'userName' | 'userEmail' | 'userZone' | 'usergroupMembers';
  channel?: string;
  user?: string;
  text?: string;
  threadTs?: string;
  ts?: string;
  blocks?: Block[];
  key?: string;
}

/** A Slack platform error as @slack/web-api throws it. */
export function slackError(error: string): Error {
  return Object.assign(new Error(`An API error occurred: ${error}`), {
    code: 'slack_webapi_platform_error',
    data: { ok: false, error },
  });
}

/**
 * `failNext(err, times, channel)`: the next calls (to `channel` only, when given) throw `err`. With `now`, its
 * messages' ts are on that clock (a microsecond apart within a second), as Slack's and irbot's clocks agree.
 */
export function recordingSlack(now?: () => Date): SlackPort & {
  calls: SlackCall[];
  /** The ts Slack gives the next message (a person's reply, say), after every one so far. */
  nextTs: () => string;
  failNext: (err: Error, times?: number, channel?: string) => void;
} {
  const calls: SlackCall[] = [];
  const failures: { err: Error; channel: string | undefined }[] = [];
  /** Top-level posts by key, for findPost. */
  const keyed = new Map<string, { channel: string; ts: string }>();
  let ts = 1_700_000_000;
  let micros = 0;
  const nextTs = (clock: () => Date) => {
    micros = Math.max(micros + 1, clock().getTime() * 1000);
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  };
  const maybeFail = (channel?: string) => {
    const at = failures.findIndex((f) => f.channel === undefined || f.channel === channel);
    const failure = at < 0 ? undefined : failures.splice(at, 1)[0];
    if (failure) throw failure.err;
  };
  return {
    calls,
    nextTs: () => (now ? nextTs(now) : `${++ts}.000100`),
    failNext(err, times = 1, channel = undefined) {
      for (let i = 0; i < times; i++) failures.push({ err, channel });
    },
    async post({ channel, text, threadTs, blocks, key }) {
      maybeFail(channel);
      calls.push({
        method: 'post',
        channel,
        text,
        ...(threadTs ? { threadTs } : {}),
        ...(blocks ? { blocks } : {}),
        ...(key ? { key } : {}),
      });
      const posted = {
        channel: channel.startsWith('U') ? `D${channel.slice(1)}` : channel,
        ts: now ? nextTs(now) : `${++ts}.000100`,
      };
      if (key && !threadTs) keyed.set(key, posted);
      return posted;
    },
    async findPost({ key }) {
      maybeFail();
      return keyed.get(key);
    },
    async wasPosted({ key }) {
      return calls.some((c) => c.key === key);
    },
    async update({ channel, ts: messageTs, text, blocks }) {
      maybeFail(channel);
      calls.push({ method: 'update', channel, ts: messageTs, text, blocks });
    },
    async ephemeral({ channel, user, text }) {
      calls.push({ method: 'ephemeral', channel, user, text });
    },
    async userName(userId) {
      calls.push({ method: 'userName', text: userId });
      return userId === 'U0HAROLD' ? 'Harold' : userId;
    },
    async userZone(userId) {
      calls.push({ method: 'userZone', text: userId });
      // Harold works in Paris; the others have no zone in Slack.
      return userId === 'U0HAROLD'
        ? { tz: 'Europe/Paris', offset: 3600, name: 'Harold' }
        : { tz: null, offset: null, name: userId };
    },
    async userEmail(userId) {
      calls.push({ method: 'userEmail', text: userId });
      return userId === 'U0HAROLD' ? 'harold@example.com' : undefined;
    },
    async usergroupMembers(usergroupId) {
      maybeFail();
      calls.push({ method: 'usergroupMembers', text: usergroupId });
      if (usergroupId !== 'S0SECOPS') throw slackError('no_such_subteam');
      return ['U0ANALYST', 'U0LEAD'];
    },
  };
}

export function fakeClock(start = '2026-11-27T10:00:00.000Z') {
  let now = Date.parse(start);
  return {
    now: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  };
}

export function testApp(
  overrides: Partial<AppOptions> = {},
  llm: Writer = createOfflineWriter(),
  pacer?: Pacer,
  ports: Partial<Ports> = {},
) {
  const store = memoryStore();
  const clock = fakeClock();
  const slack = recordingSlack(clock.now);
  const logs: string[] = [];
  let id = 0;
  const all: Ports = {
    slack,
    llm,
    store,
    clock: clock.now,
    newId: () => String(++id).padStart(6, '0'),
    log: (l) => logs.push(l),
    schedule: () => undefined, // retries are driven by recover() and the fake clock
    ...(pacer ? { pacer } : {}),
    ...ports,
  };
  const options: AppOptions = {
    feedChannelId: 'C0FEED',
    maxNudges: 2,
    nudgeAfterMs: 60 * 60_000,
    responders: [],
    ...overrides,
  };
  const app = new App(all, options);
  /** `ports` and `options` build another process's App on the same store and Slack. */
  return { app, store, slack, clock, logs, ports: all, options };
}

export const PIVOT = {
  id: 'pivot',
  name: 'Pivoting',
  description: 'User was found pivoting from one host to another',
  userId: 'U0HAROLD',
  properties: { source_host: 'source.machine.org' },
};

/** A pacer that, once armed, holds every post to one channel until `open()`: Slack's budget, spent. */
export function gatedPacer(channel: string) {
  let armed = false;
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const pacer: Pacer = {
    backOff: () => undefined,
    retake: () => null,
    take: async (method, target) => {
      if (!armed || method !== 'chat.postMessage' || target !== channel) return 0;
      await gate;
      return 1000;
    },
  };
  return { pacer, arm: () => (armed = true), open: () => open() };
}

let replySeq = 0;
/**
 * A Slack ts for a reply from the person: later than any message the test Slacks posted (their timestamps start
 * from 1,700,000,000 or from today), as a reply to the bot is in Slack. irbot takes a DM written before a chat's
 * first DM reached the person as no answer of that chat.
 */
export function replyTs(): string {
  return `${2_000_000_000 + ++replySeq}.000100`;
}

/**
 * The offline writer's verdicts as a model's: without `byRules`, so that an aware answer closes the chat as it would
 * with an LLM (the offline rules' own aware answers close as needing review).
 */
export function asModel(writer: Writer = createOfflineWriter()): Writer {
  return {
    ...writer,
    classify: async (alert, lines) => {
      const { byRules: _, ...verdict } = await writer.classify(alert, lines);
      return verdict;
    },
  };
}
