// SlackPort over the real @slack/web-api client. SDK retries handle 429 (Retry-After) and network errors.
import type * as WebApi from '@slack/web-api';
import type { KnownBlock, UsersInfoResponse, WebClient as WebClientType } from '@slack/web-api';
import { requireCjs } from '../cjs.js';

const webApi = requireCjs('@slack/web-api') as typeof WebApi;
const { WebClient } = webApi;

import { type Log, slackLogger } from '../log.js';
import { stoppedWithin } from '../pause.js';
import { requestFailureOf, withApiUrl } from './errors.js';
import type { PostedMessage, SlackPort, UserZone } from './port.js';
import { HISTORY_PAGE_LIMIT } from './rate-limits.js';

/**
 * How the SDK retries a call. A request that may have reached Slack unanswered (a timeout, a reset) is never resent
 * blindly: it fails at once, for irbot to ask Slack whether it landed. One that provably never left (refused, no
 * such host, TLS) is safe to resend, and the daemon does, as the SDK's "five retries in five minutes" would, but
 * waiting here, where `stopping` ends the wait: a stopping listen does not sit out a Slack outage's retries (what
 * it was posting stays recorded, for the next irbot). A one-shot command (send-alert, chat) reports it at once,
 * and gives up on Slack's 5xx answers within about 30 s.
 */
export function retryPolicy(oneShot: boolean, stopping?: AbortSignal): WebApi.RetryOptions {
  const stopOnNoAnswer = (err: unknown) => {
    const failure = requestFailureOf(err);
    if (failure && (oneShot || !failure.neverSent)) throw err;
  };
  // CommonJS: cjs-module-lexer does not see this export as named.
  if (oneShot) {
    return {
      retries: 3,
      factor: 2,
      minTimeout: 1000,
      maxRetryTime: ONE_SHOT_TIMEOUT_MS,
      onFailedAttempt: stopOnNoAnswer,
    } as WebApi.RetryOptions;
  }
  const { retries = 5, factor = 3.86, minTimeout = 1000 } = webApi.retryPolicies.fiveRetriesInFiveMinutes;
  // p-retry (under the SDK) stops retrying when onFailedAttempt throws, and rejects with what it threw; its own
  // pause is 0, this one's is the policy's.
  return {
    retries,
    factor: 1,
    minTimeout: 0,
    maxTimeout: 0,
    onFailedAttempt: async (err: unknown) => {
      stopOnNoAnswer(err);
      const { attemptNumber = 1, retriesLeft = 0 } = err as { attemptNumber?: number; retriesLeft?: number };
      if (retriesLeft <= 0) return;
      if (await stoppedWithin(minTimeout * factor ** (attemptNumber - 1), stopping)) throw err;
    },
  } as WebApi.RetryOptions;
}

/** A one-shot command's bound on one request, and on its retries: it reports what it could not reach in time. */
export const ONE_SHOT_TIMEOUT_MS = 20_000;

export function createWebClient(
  token: string,
  slackApiUrl: string,
  log: Log,
  opts: { oneShot?: boolean; stopping?: AbortSignal } = {},
): WebClientType {
  const oneShot = opts.oneShot === true;
  return new WebClient(token, {
    slackApiUrl,
    logger: slackLogger(log, 'slack'),
    retryConfig: retryPolicy(oneShot, opts.stopping),
    timeout: oneShot ? ONE_SHOT_TIMEOUT_MS : 30_000,
    // irbot paces calls itself (src/slack/pacer.ts): a call whose turn came must go out now, not queue again here.
    maxRequestConcurrency: 1000,
    // On a 429 the SDK would pause every call for Retry-After; irbot instead retries only that call, after it.
    rejectRateLimitedCalls: true,
  });
}

/** How far our clock may be ahead of Slack's: the window for a post starts this long before it was attempted. */
const CLOCK_SKEW_MS = 60_000;

/** A Slack timestamp (`seconds.micro`) for a time in milliseconds. */
function slackTs(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(6);
}

/** A page of conversations.history or .replies, as far as `wasPosted` reads it. */
interface HistoryPage {
  messages?: Message[];
  has_more?: boolean;
  response_metadata?: { next_cursor?: string };
}

/** The metadata event type irbot marks its posts with. */
const METADATA_TYPE = 'irbot_post';

type Message = { ts?: string; bot_id?: string; metadata?: { event_type?: string; event_payload?: unknown } };

/**
 * A message this bot posted under `key`. Another app in the channel may post the same metadata (the key is not a
 * secret): only our own bot's message proves our post landed, or a forged one could make irbot skip a post.
 */
function keyed(key: string, botId: string) {
  return (m: Message) =>
    m.bot_id === botId &&
    m.metadata?.event_type === METADATA_TYPE &&
    (m.metadata.event_payload as { key?: unknown })?.key === key;
}

export function createSlackPort(client: WebClientType): SlackPort {
  const port = slackPortOf(client);
  // A request that reached no Slack names the URL it tried, in the line that reports it.
  const guarded = Object.entries(port).map(([name, call]) => [
    name,
    (...args: unknown[]) =>
      (call as (...a: unknown[]) => Promise<unknown>)(...args).catch((err: unknown) => {
        throw withApiUrl(err, client.slackApiUrl);
      }),
  ]);
  return Object.fromEntries(guarded) as unknown as SlackPort;
}

function slackPortOf(client: WebClientType): SlackPort {
  const names = new Map<string, string>();
  /** Each person's time zone beside their name: one users.info gives both. */
  const zones = new Map<string, UserZone>();
  const remember = (userId: string, user: UsersInfoResponse['user']) => {
    const name = user?.profile?.display_name || user?.real_name || user?.profile?.real_name || user?.name || userId;
    // Bounded: a daemon meets many people over months; a forgotten name is one more users.info.
    if (names.size >= 10_000) names.clear();
    if (zones.size >= 10_000) zones.clear();
    names.set(userId, name);
    const offset = typeof user?.tz_offset === 'number' ? user.tz_offset : null;
    zones.set(userId, { tz: user?.tz || null, offset, name });
    return name;
  };
  // Our bot's id, asked once (auth.test), when a landed-check first needs it.
  let ownBot: Promise<string> | undefined;
  const botId = () => {
    ownBot ??= client.auth.test().then((res) => {
      if (!res.bot_id) throw new Error('auth.test answered without bot_id: is SLACK_BOT_TOKEN a bot token?');
      return res.bot_id;
    });
    ownBot.catch(() => {
      ownBot = undefined; // asked again next time
    });
    return ownBot;
  };
  return {
    async findPost({ channel, key, since, beforeCall = async () => undefined }) {
      const ours = keyed(key, await botId());
      const window = { oldest: slackTs(Date.parse(since) - CLOCK_SKEW_MS), limit: HISTORY_PAGE_LIMIT };
      let cursor: string | undefined;
      do {
        await beforeCall('conversations.history');
        const page: HistoryPage = await client.apiCall('conversations.history', {
          channel,
          ...window,
          include_all_metadata: true,
          ...(cursor ? { cursor } : {}),
        });
        const found = page.messages?.find(ours);
        if (found?.ts) return { channel, ts: found.ts } satisfies PostedMessage;
        const next = page.response_metadata?.next_cursor;
        cursor = page.has_more === true && next ? next : undefined;
      } while (cursor);
      return undefined;
    },
    async post({ channel, text, threadTs, blocks, key }) {
      const res = await client.chat.postMessage({
        channel,
        text,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        ...(blocks ? { blocks: blocks as unknown as KnownBlock[] } : {}),
        ...(key ? { metadata: { event_type: METADATA_TYPE, event_payload: { key } } } : {}),
        unfurl_links: false,
        unfurl_media: false,
      });
      if (!res.channel || !res.ts) throw new Error('chat.postMessage answered without channel or ts');
      return { channel: res.channel, ts: res.ts };
    },
    async wasPosted({ channel, threadTs, key, since, beforeCall = async () => undefined }) {
      const ours = keyed(key, await botId());
      const matches = (messages: Message[] = []) => messages.some(ours);
      // Only what came since the post was attempted, 15 a page (all some apps may ask for since 2025): one page
      // is nearly always enough, since irbot posts one message at a time in a thread or DM.
      const window = { oldest: slackTs(Date.parse(since) - CLOCK_SKEW_MS), limit: HISTORY_PAGE_LIMIT };
      const pages = async (method: 'conversations.replies' | 'conversations.history', args: object) => {
        let cursor: string | undefined;
        do {
          await beforeCall(method);
          const page: HistoryPage = await client.apiCall(method, {
            ...args,
            ...window,
            include_all_metadata: true,
            ...(cursor ? { cursor } : {}),
          });
          if (matches(page.messages)) return true;
          const next = page.response_metadata?.next_cursor;
          cursor = page.has_more === true && next ? next : undefined;
        } while (cursor);
        return false;
      };
      if (threadTs) return pages('conversations.replies', { channel, ts: threadTs });
      const im = channel.startsWith('U') || channel.startsWith('W');
      if (im) await beforeCall('conversations.open');
      const dm = im ? (await client.conversations.open({ users: channel })).channel?.id : channel;
      if (!dm) return false;
      return pages('conversations.history', { channel: dm });
    },
    async ready() {},
    async update({ channel, ts, text, blocks }) {
      await client.chat.update({ channel, ts, text, blocks: blocks as unknown as KnownBlock[] });
    },
    async ephemeral({ channel, user, text }) {
      await client.chat.postEphemeral({ channel, user, text });
    },
    async userName(userId) {
      const known = names.get(userId);
      if (known) return known;
      const res = await client.users.info({ user: userId });
      return remember(userId, res.user);
    },
    async userZone(userId) {
      const known = zones.get(userId);
      if (known) return known;
      const res = await client.users.info({ user: userId });
      remember(userId, res.user);
      return zones.get(userId) ?? { tz: null, offset: null };
    },
    async userEmail(userId) {
      const res = await client.users.info({ user: userId });
      return res.user?.profile?.email || undefined;
    },
    async usergroupMembers(usergroupId) {
      const res = await client.usergroups.users.list({ usergroup: usergroupId });
      return res.users ?? [];
    },
  };
}
