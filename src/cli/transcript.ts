// `irbot transcript <alertId>`: one alert's full record for the case file, from the store only.
import type * as Commander from 'commander';
import type { Command } from 'commander';
import { needsReview, reviewWords } from '../chat/engine.js';
import type { Actor } from '../chat/types.js';
import { requireCjs } from '../cjs.js';
import { ConfigError, quote } from '../config/errors.js';
import type { AlertRecord, Speaker } from '../store/port.js';
import { findAlert } from '../store/port.js';
import { markdownQuote, markdownInline as md, safeJson } from '../untrusted-text.js';
import type { StepUpResult } from '../verify/port.js';
import { commandDescription } from './commands.js';
import type { Deps } from './deps.js';
import { loadSetup, openStore } from './setup.js';

const { Option } = requireCjs('commander') as typeof Commander;

export interface TranscriptData {
  alert: {
    id: string;
    template: string;
    name: string;
    description: string;
    properties: Record<string, string>;
    user_id: string;
    person: string | null;
    channel: string;
    ts: string | null;
    created_at: string;
    last_activity_at: string;
  };
  started_by: Actor | null;
  started_at: string | null;
  messages: Array<{ at: string; from: Speaker; by?: string; text: string }>;
  /** Lines an analyst typed while the chat was queued: sent after the greeting when it starts, not yet sent. */
  held: Array<{ by: string; text: string }>;
  verdict: {
    state: AlertRecord['chat']['state'];
    outcome: AlertRecord['chat']['outcome'];
    aware: boolean | null;
    /** Aware, but a reply tried to instruct the bot: an analyst must look (src/chat/engine.ts needsReview). */
    needs_review: boolean;
    /** Why, when it does. */
    review_reason?: string;
    nudges: number;
    /** The step-up's result (only `approved` confirms an aware answer), and why it was not approved; null: none ran. */
    verified: StepUpResult | null;
    verified_reason: string | null;
    /** Why the chat stopped on a Slack error, with the fix; null unless the state is `failed`. */
    failure: string | null;
  };
  ended_by: Actor | null;
  ended_at: string | null;
}

export function addTranscriptCommand(program: Command, deps: Deps): void {
  program
    .command('transcript')
    .description(commandDescription('transcript'))
    .argument('<alertId>', 'the alert instance id, e.g. pivot-tt2k9x3fa1 (irbot status --all lists them)')
    .addOption(
      new Option('--format <format>', 'md: readable Markdown; json: the data').choices(['md', 'json']).default('md'),
    )
    .option('--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)')
    .action(async (alertId: string, opts: { format: 'md' | 'json'; config?: string }) => {
      // The store alone: no Slack or OpenAI variable is needed.
      const { config, log } = await loadSetup(deps, opts.config, []);
      const store = openStore(config, log);
      const alert = await findAlert(store, alertId);
      if (!alert) {
        throw new ConfigError(`No alert ${quote(alertId)} in ${store.path}: irbot status --all lists the alert ids`);
      }
      const data = transcriptOf(alert);
      deps.stdout.write(opts.format === 'json' ? `${safeJson(data, 2)}\n` : renderTranscript(data));
    });
}

export function transcriptOf(alert: AlertRecord): TranscriptData {
  const { chat } = alert;
  return {
    alert: {
      id: alert.id,
      template: alert.template,
      name: alert.name,
      description: alert.description,
      properties: { ...alert.properties },
      user_id: alert.userId,
      person: alert.personName ?? null,
      channel: alert.channelId,
      ts: alert.ts,
      created_at: alert.createdAt,
      last_activity_at: alert.lastActivityAt,
    },
    started_by: chat.startedBy,
    started_at: chat.startedAt,
    messages: alert.transcript.map((t) => ({ at: t.at, from: t.from, ...(t.by ? { by: t.by } : {}), text: t.text })),
    held: (chat.held ?? []).map((line) => ({ by: line.by, text: line.text })),
    verdict: {
      state: chat.state,
      outcome: chat.outcome,
      aware: chat.aware,
      needs_review: needsReview(chat),
      ...(needsReview(chat) ? { review_reason: reviewWords(chat) } : {}),
      nudges: chat.nudges,
      verified: chat.verified ?? null,
      verified_reason: chat.stepUp?.reason ?? null,
      failure: chat.failure ?? null,
    },
    ended_by: chat.endedBy,
    ended_at: chat.endedAt,
  };
}

const OUTCOMES: Record<string, string> = {
  answered: 'answered',
  no_answer: 'no answer',
  ended_by_analyst: 'ended by an analyst',
};

/**
 * Markdown for the case file. Every field a person or a webhook controls is escaped (no heading, list, link, table
 * or HTML of theirs), and control and bidi characters are shown, not obeyed; people's words are blockquotes.
 */
export function renderTranscript(data: TranscriptData): string {
  const { alert, verdict } = data;
  const person = alert.person ? `${md(alert.person)} (${md(alert.user_id)})` : md(alert.user_id);
  const out: string[] = [`# ${md(alert.id)}: ${md(alert.name)}`, ''];
  out.push(`- **Template:** ${md(alert.template)}`);
  if (alert.description.includes('\n')) {
    out.push('- **Description:**', '', indent(markdownQuote(alert.description)), '');
  } else if (alert.description) {
    out.push(`- **Description:** ${md(alert.description)}`);
  }
  out.push(`- **Person:** ${person}`);
  out.push(
    `- **Posted:** ${time(alert.created_at)} in ${md(alert.channel)}${alert.ts ? ` (ts ${md(alert.ts)})` : ' (not accepted by Slack)'}`,
  );
  out.push(`- **Last activity:** ${time(alert.last_activity_at)}`);
  const properties = Object.entries(alert.properties);
  if (properties.length > 0) {
    out.push('', '## Properties', '', '| property | value |', '| --- | --- |');
    for (const [key, value] of properties) out.push(`| ${md(key)} | ${md(value)} |`);
  }
  out.push('', '## Chat', '');
  out.push(data.started_at ? `Started ${time(data.started_at)} by ${actor(data.started_by)}.` : 'Never started.');
  out.push('', `## Messages (${data.messages.length})`, '');
  if (data.messages.length === 0) out.push('None.', '');
  const name = md(alert.person ?? alert.user_id);
  for (const m of data.messages) {
    out.push(`**${time(m.at)} — ${speaker(m.from, m.by, name)}**`, '');
    out.push(markdownQuote(m.text), '');
  }
  if (data.held.length > 0) {
    out.push(`## Kept for when the chat starts (${data.held.length}, not sent yet)`, '');
    for (const line of data.held) out.push(`**${md(line.by)}**`, '', markdownQuote(line.text), '');
  }
  out.push('## Verdict', '');
  out.push(`- **State:** ${verdict.state}`);
  out.push(`- **Outcome:** ${verdict.outcome ? (OUTCOMES[verdict.outcome] ?? verdict.outcome) : 'none yet'}`);
  const why = verdict.review_reason ?? "the person's reply tried to instruct the bot";
  const review = verdict.needs_review ? ` — needs review: ${why}` : '';
  out.push(`- **Aware:** ${verdict.aware === null ? 'unknown' : verdict.aware ? 'yes' : 'no'}${review}`);
  if (verdict.verified) {
    const why = verdict.verified_reason ? ` (${md(verdict.verified_reason)})` : '';
    out.push(`- **Step-up:** ${VERIFIED[verdict.verified]}${why}`);
  }
  out.push(`- **Nudges:** ${verdict.nudges}`);
  if (verdict.failure) out.push(`- **Failed:** ${md(verdict.failure)}`);
  out.push(`- **Ended:** ${data.ended_at ? `${time(data.ended_at)} by ${actor(data.ended_by)}` : 'not yet'}`);
  return `${out.join('\n')}\n`;
}

const VERIFIED: Record<StepUpResult, string> = {
  approved: 'verified (Duo push approved)',
  denied: 'DENIED: the person said it was them but refused the push — treat as a possible account compromise',
  fraud: 'DENIED: the person reported the push as fraud — treat as a possible account compromise',
  timeout: 'unverified (push timed out)',
  not_enrolled: 'unverified (not enrolled)',
  error: 'unverified (error)',
};

/** A block nested in a list item: indented by the item's marker width. */
function indent(block: string): string {
  return block.replace(/^/gm, '  ');
}

/**
 * `person` is already escaped. Each heading starts with a role word the person cannot set: their display name is
 * theirs to choose, and one named "irbot" must not make their words read as the bot's.
 */
function speaker(from: Speaker, by: string | undefined, person: string): string {
  if (from === 'bot') return `irbot → person ${person}`;
  if (from === 'person') return `person ${person} → irbot`;
  if (from === 'analyst') return `analyst${by ? ` ${md(by)}` : ''} → person ${person}`;
  return 'system note';
}

function actor(who: Actor | null): string {
  if (!who) return 'irbot';
  return who.via === 'slack' ? `${md(who.id)} (Slack)` : `${md(who.id)} (terminal)`;
}

/** `2025-01-02 10:00:03 UTC` from a stored ISO time. */
function time(iso: string): string {
  return md(iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC'));
}
