// The bench's knobs, from the environment: BENCH_RATE_SCALE, BENCH_LLM_LATENCY_MS, BENCH_DEADLINE_S, and the rest.

export interface Settings {
  /** Every Slack rate limit is this many times faster; the campaign figure is a ratio, so it keeps its meaning. */
  rateScale: number;
  /**
   * The same for the PostgreSQL campaigns of one and three replicas (BENCH_PG_RATE_SCALE, default 10). Sped up as far
   * as the in-process ones, three replicas, PostgreSQL and the bench's local servers need more CPU than this
   * machine's two cores have (a replica per machine would not): the ratio then measures the machine, not how irbot
   * spends Slack's budget. campaign-pg-x3-stress still runs them at rateScale, for what it shows under that load.
   */
  pgRateScale: number;
  /**
   * Real-time leeway of the local Slack's rate limits. irbot, the local Slack and the LLM server share one event
   * loop, whose delays (tens of ms under load) a sped-up run cannot speed up: at ×50 they would be seconds of
   * Slack time. 0 = strict.
   */
  rateToleranceMs: number;
  /** Latency of every LLM request in the campaigns, in Slack's unscaled time (see llmLatencyScaled). */
  llmLatencyMs: number;
  /**
   * True (default): the local OpenAI server answers after llmLatencyMs ÷ rateScale, so that the run is the real
   * world sped up by one factor. False (BENCH_LLM_LATENCY_UNSCALED=1): after llmLatencyMs, so the LLM is slow
   * next to a sped-up Slack.
   */
  llmLatencyScaled: boolean;
  /** Wall-clock cap of one campaign, from the first click; a campaign still running then is reported incomplete. */
  deadlineS: number;
  campaignSizes: number[];
  /** N of the PostgreSQL campaigns and the failover (BENCH_PG_CAMPAIGN, default 1,000 as issue 12 asks). */
  pgCampaignSize: number;
  overheadEvents: number;
  storeAlerts: number;
  /** Socket Mode re-delivery of envelopes not acked within this time, as Slack does after 3 s; 0: off. */
  redeliverMs: number;
  /** Scenario names to run; null: all. */
  only: string[] | null;
}

export function readSettings(env: NodeJS.ProcessEnv): Settings {
  return {
    rateScale: positive(env, 'BENCH_RATE_SCALE', 50),
    pgRateScale: positive(env, 'BENCH_PG_RATE_SCALE', 10),
    rateToleranceMs: nonNegative(env, 'BENCH_RATE_TOLERANCE_MS', 50),
    llmLatencyMs: nonNegative(env, 'BENCH_LLM_LATENCY_MS', 800),
    llmLatencyScaled: env.BENCH_LLM_LATENCY_UNSCALED !== '1',
    deadlineS: positive(env, 'BENCH_DEADLINE_S', 240),
    campaignSizes: list(env.BENCH_CAMPAIGNS ?? '100,1000').map((s) => whole('BENCH_CAMPAIGNS', s)),
    pgCampaignSize: whole('BENCH_PG_CAMPAIGN', env.BENCH_PG_CAMPAIGN ?? '1000'),
    overheadEvents: positive(env, 'BENCH_OVERHEAD_EVENTS', 1000),
    storeAlerts: positive(env, 'BENCH_STORE_ALERTS', 100_000),
    redeliverMs: nonNegative(env, 'BENCH_REDELIVER_MS', 3000),
    only: env.BENCH_ONLY ? list(env.BENCH_ONLY) : null,
  };
}

/** What the local OpenAI server actually waits in a campaign, in real milliseconds. */
export function llmServerLatencyMs(settings: Settings): number {
  return settings.llmLatencyScaled ? settings.llmLatencyMs / settings.rateScale : settings.llmLatencyMs;
}

/** The scenarios on PostgreSQL (a database of their own on the machine's server; BENCH_PG_URL to use another). */
export const PG_SCENARIOS = [
  'overhead-pg',
  'store-growth-pg',
  'report-pg',
  'campaign-pg-x1',
  'campaign-pg-x3',
  'campaign-pg-x3-stress',
  'failover-pg',
] as const;

/** Scenarios that run a campaign: they get its time limit and its table in the report. */
export function isCampaign(name: string): boolean {
  return name.startsWith('campaign-') || name.startsWith('failover-');
}

export function scenarioNames(settings: Settings): string[] {
  const all = [
    'cli-startup',
    'overhead',
    'store-growth',
    'report',
    ...settings.campaignSizes.map((n) => `campaign-${n}`),
    ...PG_SCENARIOS,
  ];
  return settings.only ? all.filter((name) => settings.only?.includes(name)) : all;
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function number(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, got ${JSON.stringify(raw)}`);
  return value;
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = number(env, name, fallback);
  if (value <= 0) throw new Error(`${name} must be greater than 0`);
  return value;
}

function nonNegative(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = number(env, name, fallback);
  if (value < 0) throw new Error(`${name} must be 0 or more`);
  return value;
}

function whole(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: ${JSON.stringify(raw)} is not a whole number`);
  return value;
}
