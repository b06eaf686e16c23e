// The typed, validated values that env, config.toml and alerts.toml turn into.
import type { WorkingHours } from '../chat/working-hours.js';
import type { DeliveryEvent } from '../deliver/port.js';

/** Environment variables irbot reads (process values win over `.env`). Tokens are checked only where required. */
export interface Env {
  slackBotToken?: string;
  socketAppToken?: string;
  /** SLACK_SIGNING_SECRET: checks Slack's signature on each request to `listen --http`. Never printed. */
  slackSigningSecret?: string;
  openaiApiKey?: string;
  /** Slack Web API base URL, ending in `/`; default https://slack.com/api/ */
  slackApiUrl: string;
  openaiBaseUrl?: string;
  configPath?: string;
  /** DATABASE_URL: a PostgreSQL URL for the store, over config.toml's database_url. */
  databaseUrl?: string;
  /** Shared secret a SIEM sends as `Authorization: Bearer …` to `irbot listen --webhook`. */
  webhookToken?: string;
  /** The Duo Auth API application's integration key (step-up with provider "duo"). */
  duoIntegrationKey?: string;
  /** Its secret key: signs every request to Duo, never sent, printed or stored. */
  duoSecretKey?: string;
  /** Duo API base URL in place of `https://<api_hostname>` (the sandbox and the tests: the local Duo). */
  duoApiUrl?: string;
  /** PagerDuty Events API v2 integration key: escalations are paged when it is set. Never stored or printed. */
  pagerdutyRoutingKey?: string;
  /** PagerDuty Events API base URL (PAGERDUTY_API_URL); default https://events.pagerduty.com */
  pagerdutyApiUrl?: string;
}

export interface Config {
  /** Absolute path of the config file this came from. */
  file: string;
  feedChannelId: string;
  openaiOrganizationId?: string;
  openaiModel: string;
  /** Absolute; relative values in config.toml are resolved against the config file's folder. */
  databasePath: string;
  /** A PostgreSQL URL: the store is there instead of at databasePath (DATABASE_URL overrides it). */
  databaseUrl?: string | undefined;
  /** Absolute; as databasePath. */
  alertsPath: string;
  maxNudges: number;
  /** Slack user IDs allowed to press the alert's buttons; empty means anyone. */
  responders: string[];
  /** Seconds before an LLM request is abandoned (then retried, then the fallback text). */
  llmTimeoutSeconds: number;
  /** Minutes of silence before the person is nudged. */
  nudgeAfterMinutes: number;
  /** Slack mention pinged when a chat ends without an answer (the older key); undefined: the responders. */
  escalationMention?: string | undefined;
  /** `[escalation]`: which outcomes reach on-call, and who is pinged in the thread. */
  escalation: EscalationConfig;
  /** LLM requests in flight at once. */
  llmConcurrency: number;
  /** Multiplies the Slack rate limits irbot paces itself to. */
  slackRateScale: number;
  /** The rate Slack grants this app for conversations.history and .replies (see src/slack/rate-limits.ts). */
  slackHistoryTier: HistoryTier;
  /** `[[sinks]]`: where outcome events are POSTed, signed; a sink's target is `sink:<index>` (src/deliver/port.ts). */
  sinks: SinkConfig[];
  /** `[step_up]`: a second factor before an "it was me" counts. */
  stepUp: StepUpConfig;
  /** The longest a snooze may last, in days. */
  maxSnoozeDays: number;
  /** After a verified "it was me": the same template for the same person is snoozed this long; 0: never. */
  confirmBackoffHours: number;
  /** `working_hours` and `working_days`, in each person's own zone; absent: always. */
  workingHours?: WorkingHours;
  /** `max_wait_hours`: the longest a chat waits for the person's working hours. */
  maxWaitHours: number;
  /** `lease_seconds`: how long a claim holds unless renewed (src/claims.ts). */
  leaseSeconds: number;
}

export type StepUpProvider = 'none' | 'duo';
/** How a person's Duo username is made: their Slack email, its part before the @, or their Slack member ID. */
export type UsernameFrom = 'email' | 'email_local_part' | 'slack_id';

export interface StepUpConfig {
  provider: StepUpProvider;
  /** Required with provider "duo"; lower case, no scheme. */
  apiHostname?: string;
  usernameFrom: UsernameFrom;
  /** `email_domains`: a person whose Slack email is at none of them gets no push; absent: any. */
  emailDomains?: string[];
  /** Seconds the person has to answer a push before it counts as timed out. */
  pushTimeoutSeconds: number;
  /** New pushes the person may ask for after one timed out. */
  retries: number;
}

/** One `[[sinks]]` entry of config.toml. */
export interface SinkConfig {
  url: string;
  /** The name of the environment variable that holds the sink's signing secret (never the secret itself). */
  secretEnv: string;
  events: DeliveryEvent[];
}

/** How a chat ended, in the terms of `[escalation] on` (src/escalation/decide.ts says which a chat came to). */
export type EscalationOutcome = 'not_aware' | 'no_answer' | 'denied' | 'unverified' | 'failed';

export const ESCALATION_OUTCOMES: readonly EscalationOutcome[] = [
  'not_aware',
  'no_answer',
  'denied',
  'unverified',
  'failed',
];

export interface EscalationConfig {
  /** The outcomes that escalate; default not_aware, denied, unverified. */
  on: EscalationOutcome[];
  /**
   * The Slack mention pinged in the thread, `<@U…>` or `<!subteam^S…>`, built from config.toml only
   * (`[escalation] mention`, or the older `escalation_mention`); undefined: the responders.
   */
  mention?: string | undefined;
}

/** PagerDuty's severities (Events API v2 `payload.severity`); an alert may set its own. */
export type Severity = 'critical' | 'error' | 'warning' | 'info';

export const SEVERITIES: readonly Severity[] = ['critical', 'error', 'warning', 'info'];

/** Slack's 2025 change: apps distributed outside the Marketplace get conversations.history/replies at 1 a minute. */
export type HistoryTier = 'tier3' | 'non_marketplace';

/** One `[[alerts]]` entry of alerts.toml: a template that `send-alert` turns into an alert instance. */
export interface AlertTemplate {
  id: string;
  name: string;
  description: string;
  userId: string;
  properties: Record<string, string>;
  /** Start the chat as soon as the alert is posted, without a click. */
  autoChat?: boolean;
  /** Confirm an *aware* answer with a push (true) or never (false), whatever `[step_up]` says. */
  stepUp?: boolean;
  /** The PagerDuty severity of its escalation, instead of the one the outcome gives. */
  severity?: Severity;
  /** Skip the wait for the person's working hours: the chat starts at once. */
  urgent?: boolean;
}
