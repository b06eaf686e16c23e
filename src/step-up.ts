// The step-up effects: asks the verifier for a push and polls it, reporting back to the engine as events. The
// push's txid is recorded in the chat before it is polled, so a restart polls it again and never pushes twice.
import type { ChatEvent, Effect } from './chat/types.js';
import type { StepUpConfig } from './config/types.js';
import { type Log, oneLine } from './log.js';
import { type Completion, retryBackoffMs } from './outbox.js';
import { classifySlackError } from './slack/errors.js';
import type { AlertRecord, TranscriptEntry } from './store/port.js';
import type { PushStarted, PushStatus, StepUpResult, Verifier } from './verify/port.js';
import { verifierUsername } from './verify/username.js';

/** The `[step_up]` settings the flow needs. */
export type StepUpSettings = Pick<
  StepUpConfig,
  'provider' | 'retries' | 'pushTimeoutSeconds' | 'usernameFrom' | 'emailDomains'
>;

export const DEFAULT_STEP_UP: StepUpSettings = {
  provider: 'none',
  retries: 1,
  pushTimeoutSeconds: 60,
  usernameFrom: 'email',
};

export interface StepUpPorts {
  verifier: Verifier;
  settings: StepUpSettings;
  clock: () => Date;
  log: Log;
  sleep: (ms: number) => Promise<void>;
  /** The email of the person's Slack profile (users.info), paced by the caller; undefined when it has none. */
  email: (userId: string) => Promise<string | undefined>;
  /**
   * Whether the chat still waits for this push (`waiting`: on the phone; `pushing`: to be sent): another process
   * may finish it; an analyst may end the chat (a push on the phone is still followed then, none is sent).
   */
  stillWaiting: (alertId: string, push: number, phase?: 'pushing' | 'waiting') => Promise<boolean>;
  /** Settles once this process is stopping: a poll under way is left queued, unclaimed, for the next one. */
  halted: Promise<void>;
  /** Between two polls of a push: a verifier that answers `waiting` at once (no long poll) is not asked in a loop. */
  pollEveryMs: number;
}

const HALTED: unique symbol = Symbol('halted');

/** `attempts`: how many times this effect failed before (a Slack lookup that may work next time). */
export async function performStepUp(
  ports: StepUpPorts,
  record: AlertRecord,
  effect: Extract<Effect, { type: 'StartPush' | 'PollPush' }>,
  recovered: boolean,
  attempts = 0,
): Promise<Completion> {
  return effect.type === 'StartPush'
    ? startPush(ports, record, effect.push, recovered, attempts)
    : pollPush(ports, record, effect.push, effect.txid);
}

async function startPush(
  ports: StepUpPorts,
  record: AlertRecord,
  push: number,
  recovered: boolean,
  attempts: number,
): Promise<Completion> {
  if (recovered) {
    // A process died while asking for it: the push may be on the phone already, and Duo cannot be asked. No
    // second push goes unasked; the person may ask for one with `retry`, like after a timeout.
    return finished(ports, record, push, 'timeout', 'irbot stopped while sending it, so it may never have arrived', {
      interrupted: true,
    });
  }
  // Ended by an analyst (or taken further by another process) since this was queued: the person gets no push.
  if (!(await ports.stillWaiting(record.id, push, 'pushing'))) return {};
  const username = await usernameOf(ports, record.userId);
  if ('retry' in username) {
    // Slack had a bad minute (a 5xx, a dropped connection): no push was sent, so none is lost by waiting, and the
    // person's "it was me" must not become an unverified page for it. Tried again with backoff, as every effect.
    const delay = retryBackoffMs(attempts + 1);
    if (delay !== undefined) {
      ports.log(`alert ${record.id}: step-up push ${push} waits for Slack: ${username.retry}`, {
        event: 'step_up_retry',
        alert: record.id,
        level: 'warn',
      });
      return { retryAt: new Date(ports.clock().getTime() + delay).toISOString(), attempts: attempts + 1 };
    }
    return finished(ports, record, push, 'error', username.retry);
  }
  if ('reason' in username) return finished(ports, record, push, 'error', username.reason);
  // Asked again: the lookup waits its turn at Slack, and End Chat may have come meanwhile.
  if (!(await ports.stillWaiting(record.id, push, 'pushing'))) return {};
  // Tried once: the verifier retries what is safe itself, and a push whose answer was lost may be on the phone.
  let started: PushStarted;
  try {
    started = await ports.verifier.startPush({ username: username.name, alertName: record.name, alertId: record.id });
  } catch (err) {
    return finished(ports, record, push, 'error', `${ports.verifier.provider} failed: ${oneLine(err)}`);
  }
  if ('result' in started) return finished(ports, record, push, started.result, started.reason);
  const at = ports.clock().toISOString();
  ports.log(`alert ${record.id}: step-up push ${push} sent`, { event: 'step_up_push', alert: record.id });
  return {
    events: [{ type: 'PushStarted', push, txid: started.txid, at }],
    transcript: [line(`Duo push ${push} sent to ${username.name} (txid ${started.txid}).`, at)],
  };
}

async function pollPush(ports: StepUpPorts, record: AlertRecord, push: number, txid: string): Promise<Completion> {
  const { stepUp } = record.chat;
  if (stepUp?.phase !== 'waiting' || stepUp.push !== push || stepUp.txid !== txid) return {};
  const deadline = Date.parse(stepUp.since) + ports.settings.pushTimeoutSeconds * 1000;
  let lastError: unknown;
  // Duo holds auth_status open while the push waits (a long poll): a stopping process does not wait for it.
  const halt = ports.halted.then((): typeof HALTED => HALTED);
  // Left queued and unclaimed; not due at once, or this stopping process would take it again.
  const leave = (): Completion => ({
    retryAt: new Date(ports.clock().getTime() + Math.max(ports.pollEveryMs, 1000)).toISOString(),
    attempts: 0,
  });
  for (;;) {
    if (!(await ports.stillWaiting(record.id, push))) return {};
    let status: PushStatus | typeof HALTED | undefined;
    try {
      status = await Promise.race([ports.verifier.pushStatus(txid), halt]);
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (status === HALTED) return leave(); // the next process polls the same txid
    if (status && status.result !== 'waiting') return finished(ports, record, push, status.result, status.reason);
    if (ports.clock().getTime() >= deadline) {
      if (lastError !== undefined) {
        const reason = `${ports.verifier.provider} unreachable: ${oneLine(lastError)}`;
        return finished(ports, record, push, 'error', reason);
      }
      return finished(ports, record, push, 'timeout', `no answer within ${ports.settings.pushTimeoutSeconds} s`);
    }
    if ((await Promise.race([ports.sleep(ports.pollEveryMs), halt])) === HALTED) return leave();
  }
}

function finished(
  ports: StepUpPorts,
  record: AlertRecord,
  push: number,
  result: StepUpResult,
  reason: string,
  how: { interrupted?: true } = {},
): Completion {
  const at = ports.clock().toISOString();
  ports.log(`alert ${record.id}: step-up push ${push}: ${result} (${reason})`, {
    event: 'step_up_result',
    alert: record.id,
    ...(result === 'approved' ? {} : { level: 'warn' as const }),
  });
  const event: ChatEvent = { type: 'PushFinished', push, result, reason, at, ...how };
  return { events: [event], transcript: [line(`Duo push ${push}: ${result} (${reason}).`, at)] };
}

function line(text: string, at: string): TranscriptEntry {
  return { from: 'system', text, at };
}

/**
 * The person's name at the verifier, per `username_from`; or why there is none (`reason`), or why there is none
 * yet (`retry`: Slack may answer next time).
 */
async function usernameOf(
  ports: StepUpPorts,
  userId: string,
): Promise<{ name: string } | { reason: string } | { retry: string }> {
  const from = ports.settings.usernameFrom;
  if (from === 'slack_id') return { name: userId };
  let email: string | undefined;
  try {
    email = await ports.email(userId);
  } catch (err) {
    const why = `users.info ${userId} failed, so the person's email is unknown: ${oneLine(err)}`;
    return classifySlackError(err).kind === 'retry' ? { retry: why } : { reason: why };
  }
  const name = verifierUsername(from, { userId, email });
  if (!name) {
    return {
      reason: `Slack gave no email for ${userId}: the app needs the users:read.email scope (reinstall it after adding it)`,
    };
  }
  // A guest of another organisation (Slack Connect) is no user of your Duo, whatever their name.
  const domain = email?.trim().split('@').at(-1)?.toLowerCase();
  const { emailDomains } = ports.settings;
  if (emailDomains && (domain === undefined || !emailDomains.includes(domain))) {
    return { reason: `${userId}'s Slack email is at ${domain ?? 'no domain'}, none of step_up.email_domains` };
  }
  return { name };
}

/** The verifier when none is configured: a step-up asked for (an alert's `step_up = true`) is never verified. */
export const NO_VERIFIER: Verifier = {
  provider: 'none',
  startPush: async () => ({
    result: 'error',
    reason: 'this alert asks for step-up but no verifier is configured ([step_up] provider = "none")',
  }),
  pushStatus: async () => ({ result: 'error', reason: 'no verifier is configured' }),
};
