// Slack's published Web API rate limits: what irbot paces itself to, and what the local Slack enforces.
// https://docs.slack.dev/apis/web-api/rate-limits — Tier 2 is 20+ calls a minute, Tier 3 50+, Tier 4 100+, each per
// method per workspace; chat.postMessage is "special": about one message per second per channel, short bursts
// tolerated. The bursts are a guess: Slack publishes none.

/** How many calls a bucket allows: `perMinute` on average, `burst` at once after a quiet spell. */
export interface RateLimit {
  perMinute: number;
  burst: number;
  /** `channel`: one bucket per (method, channel); `workspace`: one bucket per method. */
  per: 'channel' | 'workspace';
}

const TIER_2: RateLimit = { perMinute: 20, burst: 3, per: 'workspace' };
const TIER_3: RateLimit = { perMinute: 50, burst: 5, per: 'workspace' };
const TIER_4: RateLimit = { perMinute: 100, burst: 10, per: 'workspace' };

export const SLACK_RATE_LIMITS: Readonly<Record<string, RateLimit>> = {
  'chat.postMessage': { perMinute: 60, burst: 3, per: 'channel' },
  'chat.update': TIER_3,
  'chat.postEphemeral': TIER_4,
  'conversations.open': TIER_3,
  'conversations.info': TIER_3,
  'conversations.history': TIER_3,
  // Tier 3 for Marketplace and internal apps; since 2025 far lower for other commercially distributed apps.
  'conversations.replies': TIER_3,
  'users.info': TIER_4,
  'usergroups.users.list': TIER_2,
  'auth.test': TIER_4,
  'apps.connections.open': TIER_2,
};

/**
 * Since 2025, apps distributed outside the Slack Marketplace get conversations.history and conversations.replies at
 * 1 request a minute and at most 15 messages a page; internal and Marketplace apps keep Tier 3.
 * https://docs.slack.dev/changelog/2025/05/29/rate-limit-changes-for-non-marketplace-apps
 */
const NON_MARKETPLACE_HISTORY: RateLimit = { perMinute: 1, burst: 1, per: 'workspace' };

/** The limits irbot paces itself to, for the rate Slack grants this app's history reads. */
export function rateLimitsFor(historyTier: 'tier3' | 'non_marketplace'): Readonly<Record<string, RateLimit>> {
  if (historyTier === 'tier3') return SLACK_RATE_LIMITS;
  return {
    ...SLACK_RATE_LIMITS,
    'conversations.history': NON_MARKETPLACE_HISTORY,
    'conversations.replies': NON_MARKETPLACE_HISTORY,
  };
}

/** The most messages a history page may ask for, in every tier. */
export const HISTORY_PAGE_LIMIT = 15;

/** The bucket a call counts against. */
export function bucketKey(method: string, limit: RateLimit, channel?: string): string {
  return limit.per === 'channel' ? `${method} ${channel ?? ''}` : method;
}
