// What a Slack Web API error means for irbot: retry later, give up on one effect, or stop the chat, with the fix.
// Error shapes: https://github.com/slackapi/node-slack-sdk/blob/main/packages/web-api/src/errors.ts
import { redact } from '../log.js';

export type FailureKind = 'retry' | 'skip' | 'fatal';

/**
 * apps.connections.open's answers that mean the app-level token (SOCKET_APP_TOKEN) must be fixed or replaced by a
 * person: Socket Mode does not try again, and `listen` says which token to fix.
 */
export const APP_TOKEN_REFUSALS: ReadonlySet<string> = new Set([
  'invalid_auth',
  'account_inactive',
  'not_authed',
  'token_revoked',
  'token_expired',
  'missing_scope',
  'not_allowed_token_type',
]);

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
  /** A request error's cause: fetch's TypeError, whose own cause holds the system's error code. */
  original?: { name?: unknown; message?: unknown; code?: unknown; cause?: unknown };
  /** The Web API base URL the request went to, set by `withApiUrl`. */
  slackApiUrl?: unknown;
}

/**
 * System error codes that prove a request never reached Slack: no connection, no address, no TLS session (or a
 * URL fetch refuses to send). Anything else without an answer (a timeout, a reset) may have been acted on.
 */
const NEVER_SENT =
  /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EAI_FAIL|EAI_NONAME|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL|UND_ERR_CONNECT_TIMEOUT|ERR_INVALID_URL|ERR_TLS_\w+|ERR_SSL_\w+|CERT_\w+|UNABLE_TO_\w+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)$/;

/** A request that got no answer from Slack: why (the system's error code), and whether it provably never left. */
export interface RequestFailure {
  reason: string;
  neverSent: boolean;
}

/** For the SDK's request errors (no HTTP answer at all); undefined for anything Slack answered. */
export function requestFailureOf(err: unknown): RequestFailure | undefined {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkError;
  if (e.code !== 'slack_webapi_request_error') return undefined;
  const original = e.original ?? {};
  const code = systemCode(original.cause) ?? systemCode(original);
  if (code) return { reason: code, neverSent: NEVER_SENT.test(code) };
  // fetch refuses ports kept for other protocols (1, 25, 6000…) before connecting.
  if ((original.cause as { message?: unknown } | undefined)?.message === 'bad port') {
    return { reason: 'a port fetch refuses to use', neverSent: true };
  }
  if (original.name === 'TimeoutError' || original.name === 'AbortError')
    return { reason: 'timed out', neverSent: false };
  // fetch throws a TypeError of its own before sending anything for a URL it will not use (e.g. with user:password@).
  if (original.name === 'TypeError' && original.message !== 'fetch failed') {
    return { reason: 'the URL cannot be used', neverSent: true };
  }
  return { reason: 'network error', neverSent: false };
}

function systemCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown } | null | undefined;
  if (typeof e?.code === 'string') return e.code;
  // Several addresses tried one after the other (happy eyeballs): an AggregateError of each one's error.
  const first = Array.isArray(e?.errors) ? (e.errors[0] as { code?: unknown } | undefined) : undefined;
  return typeof first?.code === 'string' ? first.code : undefined;
}

/** Notes on a request error which Web API URL it could not reach, for the line that reports it. */
export function withApiUrl<E>(err: E, slackApiUrl: string): E {
  if (requestFailureOf(err) && typeof err === 'object' && err !== null) {
    (err as SdkError).slackApiUrl = slackApiUrl;
  }
  return err;
}

export function classifySlackError(err: unknown): SlackFailure {
  if (err instanceof CheckFailed) return classifySlackError(err.cause);
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkError;
  switch (e.code) {
    case 'slack_webapi_platform_error': {
      const code = typeof e.data?.error === 'string' ? e.data.error : 'unknown_error';
      const fix = FATAL[code];
      if (fix) return { kind: 'fatal', code, fix };
      // `rate_limited` (with an underscore, an answer of 200) is chat.postMessage's own "too many messages".
      if (
        code === 'ratelimited' ||
        code === 'rate_limited' ||
        code === 'internal_error' ||
        code === 'fatal_error' ||
        code === 'service_unavailable' ||
        code === 'request_timeout'
      ) {
        return { kind: 'retry', code };
      }
      // message_not_found, invalid_blocks…: this one call cannot succeed, the chat can go on. (msg_too_long
      // should not happen, texts are split to fit; src/app/posting.ts halves a text Slack still refuses before it gets here.)
      return { kind: 'skip', code };
    }
    case 'slack_webapi_http_error': {
      const status = typeof e.statusCode === 'number' ? e.statusCode : 0;
      return { kind: status >= 500 || status === 429 ? 'retry' : 'skip', code: `HTTP ${status}` };
    }
    case 'slack_webapi_rate_limited_error':
      return { kind: 'retry', code: 'ratelimited', retryAfterMs: retryAfterSeconds(e.retryAfter) * 1000 };
    case 'slack_webapi_request_error': {
      const { reason } = requestFailureOf(err) ?? { reason: 'network error' };
      const url = typeof e.slackApiUrl === 'string' ? redact(e.slackApiUrl) : 'its API URL';
      return {
        kind: 'retry',
        code: reason,
        fix: `could not reach Slack at ${url}: check SLACK_API_URL and the network`,
      };
    }
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

  /** `after`: what became of the work, added to the message (e.g. that an alert is kept to be posted later). */
  constructor(method: string, cause: unknown, after?: string) {
    const failure = classifySlackError(cause);
    super(`${method} failed: ${describeSlackFailure(failure)}${after ? `; ${after}` : ''}`, { cause });
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
