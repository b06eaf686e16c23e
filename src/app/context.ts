// What every part of the App shares: the ports, the options, and the few helpers built on them alone (the time,
// Slack's budget for calls outside the outbox, the engine's rules).
import { mentionOf } from '../access.js';
import type { Rules } from '../chat/types.js';
import type { WorkingHours } from '../chat/working-hours.js';
import { Claimant } from '../claims.js';
import type { EscalationOutcome, SinkConfig } from '../config/types.js';
import type { Drain } from '../deliver/drain.js';
import type { Writer } from '../llm/port.js';
import type { Log } from '../log.js';
import { classifySlackError, isRateLimited } from '../slack/errors.js';
import { type Pacer, unpaced } from '../slack/pacer.js';
import type { SlackPort } from '../slack/port.js';
import { DEFAULT_STEP_UP, type StepUpSettings } from '../step-up.js';
import type { AlertRecord, Store } from '../store/port.js';
import type { Verifier } from '../verify/port.js';

export interface Ports {
  slack: SlackPort;
  llm: Writer;
  store: Store;
  clock: () => Date;
  newId: () => string;
  log: Log;
  /** Paces Slack calls to Slack's rate limits; default: none (the SDK still honours 429s). */
  pacer?: Pacer;
  /** Runs `fn` after `ms` (a retry that is due); default: an unref'd timer, so it never keeps a process alive. */
  schedule?: (ms: number, fn: () => void) => void;
  /** Told when a call waits `ms` for Slack's Retry-After (a terminal shows it); default: a log line. */
  waiting?: (ms: number) => void;
  /** Waits `ms`; default: a timer. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * A one-shot command, which exits once its alerts are posted: an alert's details that Slack asked to retry
   * later (Retry-After) are waited for, within MAX_RATE_LIMITED_WAIT_MS, instead of being left to the next listen.
   */
  oneShot?: boolean;
  /** Confirms "it was me" with a second factor (step-up); default: none, so an alert that asks for it is unverified. */
  verifier?: Verifier;
  /** Between two polls of a pending push; default 1 s. */
  pollEveryMs?: number;
  /**
   * Sends the deliveries (sink events, pages) queued with the alerts, apart from the Slack lanes; a process
   * without one (a one-shot command) only queues them, for `irbot listen` to send.
   */
  deliveries?: Drain;
  /** A clock that only goes forward, in ms, for how long ago a lease was confirmed; default: performance.now. */
  monotonic?: () => number;
}

export interface AppOptions {
  feedChannelId: string;
  maxNudges: number;
  /** Silence before a nudge. */
  nudgeAfterMs: number;
  /** Who may press the alert's buttons (user and user group IDs); empty means anyone but the alert's person. */
  responders: string[];
  /** Slack mention for chats that end without an answer or escalate; default: the responders. */
  escalationMention?: string;
  /** `[step_up]`: default provider none (no step-up unless an alert asks for it). */
  stepUp?: StepUpSettings;
  /** `[[sinks]]`: which outcome events each sink gets (src/deliver/events.ts). */
  sinks?: SinkConfig[];
  /** The chat outcomes that escalate (`[escalation] on`); default: none. */
  escalateOn?: readonly EscalationOutcome[];
  /** PAGERDUTY_ROUTING_KEY is set: escalations are paged too. */
  pagerduty?: boolean;
  /** `confirm_backoff_hours`: after a verified "it was me", the template is snoozed for the person this long; 0: off. */
  confirmBackoffHours?: number;
  /** `working_hours` and `working_days`, in each person's own zone; absent: always (no chat waits). */
  workingHours?: WorkingHours;
  /** `max_wait_hours`: the longest a chat waits for the person's working hours (default 12 h). */
  maxWaitMs?: number;
  /** `lease_seconds`: how long a claim of this App holds unless renewed (default 30 s; see src/claims.ts). */
  leaseMs?: number;
}

/** How long in all a call outside the outbox waits for Slack's Retry-After before its error is reported. */
export const MAX_RATE_LIMITED_WAIT_MS = 5 * 60_000;

export type Ack = () => Promise<void>;
export const noAck: Ack = async () => undefined;

export class AppContext {
  /** This App's run: its claims are its own, apart from those of any other App, in this process or another. */
  readonly claimant: Claimant;
  /** Settles when the process stops: a push being polled is left queued for the next one. */
  readonly halted: Promise<void>;
  private stopPolling: () => void = () => undefined;

  constructor(
    readonly ports: Ports,
    readonly options: AppOptions,
  ) {
    this.halted = new Promise((resolve) => {
      this.stopPolling = resolve;
    });
    this.claimant = new Claimant(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {});
  }

  /** Milliseconds on a clock that only goes forward (a paused process sees the pause). */
  monotonic(): number {
    return (this.ports.monotonic ?? performance.now.bind(performance))();
  }

  /** Stops polling pushes: what is under way is left queued for the next process (see step-up.ts). */
  halt(): void {
    this.stopPolling();
  }

  now(): string {
    return this.ports.clock().toISOString();
  }

  get pacer(): Pacer {
    return this.ports.pacer ?? unpaced;
  }

  get rules(): Rules {
    return {
      maxNudges: this.options.maxNudges,
      nudgeAfterMs: this.options.nudgeAfterMs,
      stepUpRetries: this.stepUpSettings.retries,
      ...(this.options.workingHours ? { workingHours: this.options.workingHours } : {}),
      ...(this.options.maxWaitMs !== undefined ? { maxWaitMs: this.options.maxWaitMs } : {}),
    };
  }

  get stepUpSettings(): StepUpSettings {
    return this.options.stepUp ?? DEFAULT_STEP_UP;
  }

  /** Whether an *aware* answer on this alert must be confirmed: the alert's own `step_up`, else the config's. */
  stepUpApplies(record: AlertRecord): boolean {
    return record.stepUp ?? this.stepUpSettings.provider !== 'none';
  }

  /** Who is pinged in an alert's thread: the configured mention, else the responders (trusted: from config.toml). */
  get mention(): string {
    return this.options.escalationMention ?? this.options.responders.map(mentionOf).join(' ');
  }

  /**
   * A call made outside the outbox (posting an alert, a name, a refusal): paced, and on a 429 tried again after
   * Retry-After, as often as Slack asks within MAX_RATE_LIMITED_WAIT_MS, since Slack only said "not yet".
   */
  async whenSlackAllows<T>(method: string, channel: string | undefined, call: () => Promise<T>): Promise<T> {
    let waited = 0;
    if (this.ports.slack.ready) await this.ports.slack.ready();
    for (;;) {
      await this.pacer.take(method, channel);
      try {
        return await call();
      } catch (err) {
        if (!isRateLimited(err)) throw err;
        const ms = classifySlackError(err).retryAfterMs ?? 1000;
        if (waited + ms > MAX_RATE_LIMITED_WAIT_MS) throw err;
        waited += ms;
        this.pacer.backOff(method, channel, ms);
        this.slackWait(method, ms);
        await this.sleep(ms);
      }
    }
  }

  schedule(ms: number, fn: () => void): void {
    if (this.ports.schedule) this.ports.schedule(ms, fn);
    else setTimeout(fn, Math.max(0, ms)).unref();
  }

  sleep(ms: number): Promise<void> {
    return (this.ports.sleep ?? ((t: number) => new Promise<void>((resolve) => setTimeout(resolve, t))))(ms);
  }

  /** Says that a call waits `ms` for Slack: on the terminal when there is one, else in the log. */
  slackWait(method: string, ms: number): void {
    if (this.ports.waiting) this.ports.waiting(ms);
    else
      this.ports.log(`${method}: Slack is rate limiting; waiting ${Math.ceil(ms / 1000)} s`, { event: 'rate_limited' });
  }
}
