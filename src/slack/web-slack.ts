// SlackPort over the real @slack/web-api client. SDK retries handle 429 (Retry-After) and network errors.
import webApi, { type KnownBlock, WebClient } from '@slack/web-api';
import { type Log, slackLogger } from '../log.js';
import type { SlackPort } from './port.js';

export function createWebClient(token: string, slackApiUrl: string, log: Log): WebClient {
  return new WebClient(token, {
    slackApiUrl,
    logger: slackLogger(log, 'slack'),
    // CommonJS: cjs-module-lexer does not see this export as named.
    retryConfig: webApi.retryPolicies.fiveRetriesInFiveMinutes,
    timeout: 30_000,
  });
}

export function createSlackPort(client: WebClient): SlackPort {
  const names = new Map<string, string>();
  return {
    async post({ channel, text, threadTs, blocks }) {
      const res = await client.chat.postMessage({
        channel,
        text,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        ...(blocks ? { blocks: blocks as unknown as KnownBlock[] } : {}),
        unfurl_links: false,
        unfurl_media: false,
      });
      if (!res.channel || !res.ts) throw new Error('chat.postMessage answered without channel or ts');
      return { channel: res.channel, ts: res.ts };
    },
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
      names.set(userId, name);
      return name;
    },
  };
}
