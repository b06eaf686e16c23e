// The outbox's Slack posts: the check whether a post taken over had landed already, and long texts posted as
// keyed parts, so that a crash or a failure midway never posts a part twice.
import { CheckFailed, classifySlackError } from '../slack/errors.js';
import { MAX_MESSAGE_CHARS, packMessages } from '../slack/split.js';
import type { AlertRecord, OutboxItem } from '../store/port.js';
import type { AppContext } from './context.js';
import { RELAY_SEPARATOR } from './thread-text.js';

/** A message Slack still finds too long is halved down to this size at most, then given up. */
const MIN_SPLIT_CHARS = 1000;

/** How to perform a post: under which key, and whether it is known to have landed already. */
export interface PostPlan {
  key: string;
  posted: boolean;
  /** Taken over from a dead process: `posted` says whether the first message landed. */
  recovered?: boolean;
  /** Tried before (by a dead process, or failed midway): parts of a long post may have landed already. */
  resumed?: boolean;
  /** Since when those parts may have landed. */
  since?: string;
  /** Checked right before each post: throws when the claim is no longer this App's (see leases.ts). */
  fence?: () => Promise<void>;
}

type Where = { channel: string; threadTs?: string };

/**
 * Every post carries a key (alert and outbox seq) in its metadata. Taking over from a dead process (or retrying
 * a post that failed unseen), irbot first asks Slack whether that post landed since `checkSince`, so a crash
 * between posting and recording it never doubles it. The check is paced like any call; when it fails, the post
 * waits (CheckFailed): it is never sent without an answer.
 */
export async function postPlan(
  ctx: AppContext,
  record: AlertRecord,
  head: OutboxItem,
  checkSince: string | undefined,
  fence?: () => Promise<void>,
): Promise<PostPlan> {
  const fenced = fence ? { fence } : {};
  const key = `${record.id}:${head.seq}`;
  const { effect } = head;
  const threadTs = record.ts ?? undefined;
  const recovered = checkSince !== undefined;
  const resumed = recovered || head.attempts !== undefined || head.retryAt !== undefined;
  // Parts of a long post tried before are asked about since the attempt, or since the alert when unknown.
  const since = checkSince ?? record.createdAt;
  if (!recovered || (effect.type !== 'SendDm' && (effect.type !== 'PostInThread' || !threadTs))) {
    return { key, posted: false, resumed, since, ...fenced };
  }
  const where = effect.type === 'SendDm' ? { channel: record.userId } : { channel: record.channelId, threadTs };
  const posted = await askSlack(ctx, where, key, since);
  if (posted)
    ctx.ports.log(`alert ${record.id}: ${effect.type} had landed before a crash, not sent again`, {
      event: 'recovered_post',
      alert: record.id,
    });
  return { key, posted, recovered, resumed, since, ...fenced };
}

/** Whether a post keyed `key` landed since `since`: each call paced; a failure is a CheckFailed (the post waits). */
async function askSlack(ctx: AppContext, where: Where, key: string, since: string): Promise<boolean> {
  let method = 'conversations.history';
  try {
    return await ctx.ports.slack.wasPosted({
      ...where,
      key,
      since,
      beforeCall: async (called) => {
        method = called;
        await ctx.pacer.take(called);
      },
    });
  } catch (err) {
    throw new CheckFailed(method, err);
  }
}

/**
 * Posts a text that may be over Slack's limit (split by splitMessage or packMessages) as consecutive messages,
 * each its own post keyed in its metadata (`key`, `key/2`, …): a crash or a failure midway leaves a claim
 * tried before, and then each part is asked of Slack first, so no part is posted twice. The first part's ts.
 */
export async function postParts(
  ctx: AppContext,
  where: Where,
  parts: string[],
  plan: PostPlan,
): Promise<string | undefined> {
  let first: string | undefined;
  for (const [i, text] of parts.entries()) {
    const key = i === 0 ? plan.key : `${plan.key}/${i + 1}`;
    if (i === 0 && plan.posted) continue;
    // The first part was asked about already when the claim was recovered (postPlan).
    const ask = plan.resumed === true && parts.length > 1 && !(i === 0 && plan.recovered);
    const since = plan.since ?? new Date(0).toISOString();
    if (ask && (await askSlack(ctx, where, key, since))) continue;
    if (i > 0) await ctx.pacer.take('chat.postMessage', where.channel);
    const resumedSince = plan.resumed === true ? since : undefined;
    const ts = await postFitting(ctx, where, text, key, resumedSince, MAX_MESSAGE_CHARS, plan.fence);
    first ??= ts;
  }
  return first;
}

/**
 * One post. Should Slack still refuse it as msg_too_long (it may count characters otherwise), it goes out
 * halved, each half keyed under it, down to MIN_SPLIT_CHARS; past that the error stands and is logged.
 */
async function postFitting(
  ctx: AppContext,
  where: Where,
  text: string,
  key: string,
  /** Set when the post was tried before: its parts may have landed since then. */
  resumedSince: string | undefined,
  limit: number,
  fence: (() => Promise<void>) | undefined,
): Promise<string> {
  await fence?.();
  try {
    return (await ctx.ports.slack.post({ ...where, text, key })).ts;
  } catch (err) {
    const half = Math.floor(Math.min(limit, text.length) / 2);
    if (classifySlackError(err).code !== 'msg_too_long' || half < MIN_SPLIT_CHARS) throw err;
    ctx.ports.log(`a post of ${text.length} characters was too long for Slack; posting it in parts of ${half}`, {
      event: 'msg_too_long',
      level: 'warn',
    });
    let first: string | undefined;
    for (const [j, part] of packMessages([text], RELAY_SEPARATOR, half).entries()) {
      const partKey = `${key}.${j + 1}`;
      if (resumedSince !== undefined && (await askSlack(ctx, where, partKey, resumedSince))) continue;
      if (j > 0) await ctx.pacer.take('chat.postMessage', where.channel);
      const ts = await postFitting(ctx, where, part, partKey, resumedSince, half, fence);
      first ??= ts;
    }
    return first ?? '';
  }
}
