// The `duo` verifier: Duo's Auth API v2. preauth (can the person get a push?), auth (send it, without waiting),
// auth_status (what came of it). Anything but a push the person approved is not `approved`: irbot never fails open.
// https://duo.com/docs/authapi
import { createDuoClient, type DuoAnswer, type DuoClient, type DuoClientOptions, oneLine } from './duo-client.js';
import type { PushRequest, PushStarted, PushStatus, StepUpResult, Verifier } from './port.js';

export interface DuoVerifierOptions extends DuoClientOptions {
  /**
   * Milliseconds an auth_status call may wait: Duo holds it open until the push's status changes (a long poll), and
   * expires a push after 60 s. Past this the push counts as still waiting. Default 75 s.
   */
  longPollMs?: number;
}

export interface DuoVerifier extends Verifier {
  readonly provider: 'duo';
  /** Where its calls go (scheme, host, port), for messages. */
  readonly origin: string;
  /** `/auth/v2/check`, signed and tried once: are Duo reachable and the keys valid? For doctor. */
  check(): Promise<DuoAnswer>;
}

// The longest alert name put in a push: Duo limits pushinfo to 20 kB, and a phone shows a line or two.
const MAX_NAME = 120;

export function createDuoVerifier(options: DuoVerifierOptions): DuoVerifier {
  const client = createDuoClient(options);
  const longPollMs = options.longPollMs ?? 75_000;
  return {
    provider: 'duo',
    origin: client.origin,
    check: () => client.call('GET', '/auth/v2/check', {}, { idempotent: true, tries: 1 }),
    startPush: (request) => startPush(client, request),
    async pushStatus(txid) {
      const answer = await client.call(
        'GET',
        '/auth/v2/auth_status',
        { txid },
        { idempotent: true, retryTimeout: false, timeoutMs: longPollMs },
      );
      // The long poll ran out: nothing has happened to the push yet.
      if (!answer.ok && answer.timedOut) return { result: 'waiting' };
      if (!answer.ok) return { result: 'error', reason: `Duo could not say what came of the push: ${answer.problem}` };
      return statusOf(answer.response);
    },
  };
}

async function startPush(client: DuoClient, request: PushRequest): Promise<PushStarted> {
  const username = wellFormed(request.username);
  const preauth = await client.call('POST', '/auth/v2/preauth', { username }, { idempotent: true });
  if (!preauth.ok) return { result: 'error', reason: `Duo could not be asked about ${username}: ${preauth.problem}` };
  const refusal = preauthRefusal(username, preauth.response);
  if (refusal) return refusal;
  // Not idempotent: a push whose answer was lost is not sent again, so the person never gets two unasked.
  const auth = await client.call(
    'POST',
    '/auth/v2/auth',
    { username, factor: 'push', device: 'auto', async: '1', pushinfo: pushinfoOf(request) },
    { idempotent: false },
  );
  if (!auth.ok) return { result: 'error', reason: `no Duo push could be sent to ${username}: ${auth.problem}` };
  const txid = auth.response.txid;
  if (typeof txid !== 'string' || txid === '') {
    return { result: 'error', reason: `Duo accepted the push to ${username} but gave no transaction id` };
  }
  return { txid };
}

/**
 * Why no push can go to this person, from preauth's `result`; undefined when one can (`auth` with a device that
 * takes Duo Push). `allow` (bypass: Duo would let them in without a second factor) is an error, never approval;
 * `deny` (Duo's policy refuses the account: locked out, disabled) is an error too: the person refused nothing.
 */
export function preauthRefusal(username: string, response: Record<string, unknown>): PushStarted | undefined {
  const said = typeof response.status_msg === 'string' ? `: ${oneLine(response.status_msg)}` : '';
  switch (response.result) {
    case 'auth': {
      const devices = Array.isArray(response.devices) ? response.devices : [];
      const pushable = devices.some(
        (d: unknown) =>
          typeof d === 'object' &&
          d !== null &&
          Array.isArray((d as { capabilities?: unknown }).capabilities) &&
          (d as { capabilities: unknown[] }).capabilities.includes('push'),
      );
      return pushable ? undefined : { result: 'not_enrolled', reason: `${username} has no device that takes Duo Push` };
    }
    case 'enroll':
      return { result: 'not_enrolled', reason: `${username} is not enrolled in Duo` };
    case 'allow':
      return {
        result: 'error',
        reason: `Duo lets ${username} in without a second factor (bypass), so no push was sent; a bypass is never taken as approval`,
      };
    case 'deny':
      return { result: 'error', reason: `Duo refuses to authenticate ${username}${said}` };
    default:
      return { result: 'error', reason: `Duo's preauth for ${username} gave an unknown result` };
  }
}

/** auth_status's `result` and `status` in irbot's words. Only `allow`/`allow` is approved (not `allow`/`bypass`). */
export function statusOf(response: Record<string, unknown>): PushStatus {
  const status = typeof response.status === 'string' ? response.status : undefined;
  const result = response.result;
  if (result === 'waiting') return { result: 'waiting' };
  if (result === 'allow' && status === 'allow') return final('approved', 'the person approved the Duo push');
  if (result === 'allow') {
    return final('error', `Duo allowed without an approved push (status ${status ?? 'none'}); not taken as approval`);
  }
  if (result === 'deny') {
    switch (status) {
      case 'fraud':
        return final('fraud', 'the person reported the Duo push as fraud');
      case 'timeout':
        return final('timeout', 'the Duo push timed out unanswered');
      case 'deny':
        return final('denied', 'the person denied the Duo push');
      default: {
        const said = typeof response.status_msg === 'string' ? `: ${oneLine(response.status_msg)}` : '';
        return final('error', `Duo refused the push (status ${status ?? 'none'})${said}`);
      }
    }
  }
  return final('error', 'Duo answered auth_status with an unknown result');
}

const final = (result: StepUpResult, reason: string): PushStatus => ({ result, reason });

/**
 * What the phone shows beside the push: `from=irbot&alert=Pivoting&id=pivot-c55fc5`, URL-encoded key/value pairs
 * as Duo's pushinfo expects ("irbot: Pivoting, alert pivot-c55fc5").
 */
export function pushinfoOf(request: Pick<PushRequest, 'alertName' | 'alertId'>): string {
  const name = encodeURIComponent(oneLine(wellFormed(request.alertName), MAX_NAME));
  const id = encodeURIComponent(oneLine(wellFormed(request.alertId), MAX_NAME));
  return `from=irbot&alert=${name}&id=${id}`;
}

/** Lone surrogates replaced, so that percent-encoding (which throws on them) always works. */
function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}
