// SlackPort over the real @slack/web-api client. SDK retries handle 429 (Retry-After) and network errors.
import webApi, { type KnownBlock, WebClient } from '@slack/web-api';
import { type Log, slackLogger } from '../log.js';
import type { SlackPort } from './port.js';
import { HISTORY_PAGE_LIMIT } from './rate-limits.js';

export function createWebClient(token: string, slackApiUrl: string, log: Log): WebClient {
  return new WebClient(token, {
    slackApiUrl,
    logger: slackLogger(log, 'slack'),
    // CommonJS: cjs-module-lexer does not see this export as named.
    retryConfig: webApi.retryPolicies.fiveRetriesInFiveMinutes,
    timeout: 30_000,
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
  messages?: { metadata?: { event_type?: string; event_payload?: unknown } }[];
  has_more?: boolean;
  response_metadata?: { next_cursor?: string };
}

/** The metadata event type irbot marks its posts with. */
const METADATA_TYPE = 'irbot_post';

export function createSlackPort(client: WebClient): SlackPort {
  const names = new Map<string, string>();
  return {
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
      const matches = (messages: { metadata?: { event_type?: string; event_payload?: unknown } }[] = []) =>
        messages.some(
          (m) =>
            m.metadata?.event_type === METADATA_TYPE && (m.metadata.event_payload as { key?: unknown })?.key === key,
        );
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
      const user = res.user;
      const name = user?.profile?.display_name || user?.real_name || user?.profile?.real_name || user?.name || userId;
      // Bounded: a daemon meets many people over months; a forgotten name is one more users.info.
      if (names.size >= 10_000) names.clear();
      names.set(userId, name);
      return name;
    },
    async usergroupMembers(usergroupId) {
      const res = await client.usergroups.users.list({ usergroup: usergroupId });
      return res.users ?? [];
    },
  };
}
