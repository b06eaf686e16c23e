// What a Slack Web API error means for irbot: retry later, give up on one effect, or stop the chat, with the fix.
// Error shapes: https://github.com/slackapi/node-slack-sdk/blob/main/packages/web-api/src/errors.ts

export type FailureKind = 'retry' | 'skip' | 'fatal';

export interface SlackFailure {
  kind: FailureKind;
  /** Slack's error code (`channel_not_found`), or the HTTP status, or the SDK's code. */
  code: string;
  /** What the user can do about it, when there is something. */
  fix?: string;
  /** Slack's Retry-After on a 429, in milliseconds. */
  retryAfterMs?: number;
}

const REINSTALL = 'reinstall the app and update SLACK_BOT_TOKEN (OAuth & Permissions)';

/** Errors that no retry will cure, for the whole chat. */
const FATAL: Record<string, string> = {
  channel_not_found: 'check feed_channel_id in config.toml and that the channel exists',
  not_in_channel: 'invite the bot to the feed channel: /invite @irbot',
  is_archived: 'unarchive the feed channel, or set another feed_channel_id',
  invalid_auth: `check SLACK_BOT_TOKEN: ${REINSTALL}`,
  not_authed: 'set SLACK_BOT_TOKEN',
  account_inactive: `the app was uninstalled or its user deactivated: ${REINSTALL}`,
  token_revoked: `the token was revoked: ${REINSTALL}`,
  token_expired: `the token expired: ${REINSTALL}`,
  no_permission: 'the bot lacks access: check its scopes against slack-app-manifest.yml and reinstall',
  missing_scope: 'add the missing scope (see slack-app-manifest.yml) under OAuth & Permissions and reinstall the app',
  user_not_found: 'check user_id for this alert in alerts.toml',
  cannot_dm_bot: 'the alert names a bot: check user_id in alerts.toml',
  user_disabled: 'the person’s account is deactivated: follow up another way',
  team_access_not_granted: `the app is not installed where this channel or person is: ${REINSTALL}`,
};

interface SdkError {
  code?: unknown;
  retryAfter?: unknown;
  data?: { error?: unknown };
  statusCode?: unknown;
}

export function classifySlackError(err: unknown): SlackFailure {
  if (err instanceof CheckFailed) return classifySlackError(err.cause);
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkError;
  switch (e.code) {
    case 'slack_webapi_platform_error': {
      const code = typeof e.data?.error === 'string' ? e.data.error : 'unknown_error';
      const fix = FATAL[code];
      if (fix) return { kind: 'fatal', code, fix };
      if (
        code === 'ratelimited' ||
        code === 'internal_error' ||
        code === 'fatal_error' ||
        code === 'service_unavailable'
      ) {
        return { kind: 'retry', code };
      }
      // message_not_found, invalid_blocks…: this one call cannot succeed, the chat can go on. (msg_too_long
      // should not happen, texts are split to fit; app.ts halves a text Slack still refuses before it gets here.)
      return { kind: 'skip', code };
    }
    case 'slack_webapi_http_error': {
      const status = typeof e.statusCode === 'number' ? e.statusCode : 0;
      return { kind: status >= 500 || status === 429 ? 'retry' : 'skip', code: `HTTP ${status}` };
    }
    case 'slack_webapi_rate_limited_error':
      return { kind: 'retry', code: 'ratelimited', retryAfterMs: retryAfterSeconds(e.retryAfter) * 1000 };
    case 'slack_webapi_request_error':
      return { kind: 'retry', code: 'network error' };
    default:
      return { kind: 'retry', code: err instanceof Error ? err.name : 'unknown error' };
  }
}

/**
 * The same code means another thing for a DM, posted to the person's user ID: `channel_not_found` there says the
 * user does not exist, not that the feed channel is wrong.
 */
const FATAL_FOR_PERSON: Record<string, (userId: string) => string> = {
  channel_not_found: (id) => `no Slack user ${id}: check this alert's user_id (alerts.toml, or what sent the alert)`,
  user_not_found: (id) => `no Slack user ${id}: check this alert's user_id (alerts.toml, or what sent the alert)`,
  cannot_dm_bot: (id) => `${id} is a bot, not a person: check this alert's user_id`,
  user_disabled: (id) => `${id}'s account is deactivated: follow up another way`,
};

/** A failure of a DM to `userId`, with the fix that fits a DM. */
export function forPerson(failure: SlackFailure, userId: string): SlackFailure {
  const fix = FATAL_FOR_PERSON[failure.code];
  return failure.kind === 'fatal' && fix ? { ...failure, fix: fix(userId) } : failure;
}

/** Errors of the token itself: every call fails the same way, the feed channel included. */
const WORKSPACE_WIDE = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired']);

export function isWorkspaceWide(failure: SlackFailure): boolean {
  return WORKSPACE_WIDE.has(failure.code);
}

/** `channel_not_found: check feed_channel_id …` — the line irbot prints or logs for a Slack failure. */
export function describeSlackFailure(failure: SlackFailure): string {
  return failure.fix ? `${failure.code} (${failure.fix})` : failure.code;
}

/** A Slack call that failed for good: its message names the method, Slack's error code and the fix. */
export class SlackCallError extends Error {
  override readonly name = 'SlackCallError';
  readonly failure: SlackFailure;

  constructor(method: string, cause: unknown) {
    const failure = classifySlackError(cause);
    super(`${method} failed: ${describeSlackFailure(failure)}`, { cause });
    this.failure = failure;
  }
}

/** Asking Slack whether a post landed failed (`method` was the call): the post waits, it is never sent blind. */
export class CheckFailed extends Error {
  override readonly name = 'CheckFailed';

  constructor(
    readonly method: string,
    override readonly cause: unknown,
  ) {
    super(`${method} failed: ${describeSlackFailure(classifySlackError(cause))}`, { cause });
  }
}

/** Whether Slack answered 429: the call is fine, only early. */
export function isRateLimited(err: unknown): err is { retryAfter: number } {
  return (err as SdkError | null)?.code === 'slack_webapi_rate_limited_error';
}

/** Retry-After as the SDK parsed it; 0 is a valid answer ("now"), a missing one means a second. */
function retryAfterSeconds(value: unknown): number {
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 && value !== undefined && value !== null ? seconds : 1;
}
