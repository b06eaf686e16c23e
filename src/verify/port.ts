// The verifier port: how irbot asks a second factor (a Duo push today) whether "it was me" really came from the
// person. Like the LLM and Slack ports: `none` (no step-up) and `duo` (Duo's Auth API v2) implement it.

/** What a step-up came to; `status --json` shows it as `verified`. Only `approved` ever makes a verdict verified. */
export type StepUpResult = 'approved' | 'denied' | 'fraud' | 'timeout' | 'not_enrolled' | 'error';

export interface PushRequest {
  /** The person's username at the verifier (from their Slack email or id, per `username_from`). */
  username: string;
  /** Shown on the phone, e.g. `irbot: Pivoting, alert pivot-c55fc5`. */
  alertName: string;
  alertId: string;
}

/**
 * The push was sent (`txid` names it, to poll), or no push could be sent and the step-up is over. A verifier
 * never answers `approved` without a push the person approved on their own device: a bypass (Duo preauth
 * `allow`) is `error` with the reason, never approved.
 */
export type PushStarted = { txid: string } | { result: Exclude<StepUpResult, 'approved'>; reason: string };

/** Still waiting for the person, or the push's final result with a reason in words for the thread. */
export type PushStatus = { result: 'waiting' } | { result: StepUpResult; reason: string };

export interface Verifier {
  readonly provider: 'none' | 'duo';
  /** Checks the person can get a push (Duo preauth), then sends one without waiting for the answer. */
  startPush(request: PushRequest): Promise<PushStarted>;
  /** The state of a push sent earlier, by the `txid` startPush gave (kept in the store across restarts). */
  pushStatus(txid: string): Promise<PushStatus>;
}
