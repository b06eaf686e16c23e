// The commands, in the order `irbot --help` lists them: each one's module, loaded only when it runs (the others'
// dependencies, the Slack SDK, prompts, terminal layout, would cost every start of irbot their load time), and how
// the top-level help shows it, so that `irbot --help` and `--version` load no command module at all.
// Each module describes its command with `commandDescription`; test/unit/cli/commands.test.ts checks the terms.
import type { Command } from 'commander';
import type { Deps } from './deps.js';

export type AddCommand = (program: Command, deps: Deps) => void;

export interface CommandEntry {
  name: string;
  /** As the top-level help shows it: the name, `[options]` when it has any, its arguments. */
  term: string;
  description: string;
  load: () => Promise<AddCommand>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'send-alert',
    term: 'send-alert [options] [templateId]',
    description:
      'Post an alert from alerts.toml to the feed channel (a random one without an id), or the alerts in --file',
    load: async () => (await import('./send-alert.js')).addSendAlertCommand,
  },
  {
    name: 'chat',
    term: 'chat [options] [alertId]',
    description:
      'Start the chat for a posted alert and follow it live (type to write to the person, /end to end, /now to start a scheduled chat at once)',
    load: async () => (await import('./chat.js')).addChatCommand,
  },
  {
    name: 'listen',
    term: 'listen [options]',
    description: 'Run the bot: handle alert buttons and direct messages until stopped (SIGINT/SIGTERM)',
    load: async () => (await import('./listen.js')).addListenCommand,
  },
  {
    name: 'status',
    term: 'status [options]',
    description: 'Show open and failed chats (read from the store only)',
    load: async () => (await import('./status.js')).addStatusCommand,
  },
  {
    name: 'snooze',
    term: 'snooze',
    description: 'Suppress alerts the team already knows about, for a while: add, list, rm (kept for the audit)',
    load: async () => (await import('./snooze.js')).addSnoozeCommand,
  },
  {
    name: 'report',
    term: 'report [options]',
    description: 'Show how it is going: alerts, replies, times to answer, verdicts (read from the store only)',
    load: async () => (await import('./report.js')).addReportCommand,
  },
  {
    name: 'sandbox',
    term: 'sandbox [options] [templateId]',
    description:
      'Try irbot with no Slack workspace and no OpenAI key: a local Slack, offline texts, you type as the person',
    load: async () => (await import('./sandbox.js')).addSandboxCommand,
  },
  {
    name: 'init',
    term: 'init [options]',
    description:
      'Set up: ask for the Slack tokens, the OpenAI key and the feed channel; write .env, config.toml and alerts.toml',
    load: async () => (await import('./init.js')).addInitCommand,
  },
  {
    name: 'doctor',
    term: 'doctor [options]',
    description:
      'Check the set-up: variables, config, alerts, Slack tokens and scopes, feed channel, OpenAI, store, Duo, sinks, escalation',
    load: async () => (await import('./doctor.js')).addDoctorCommand,
  },
  {
    name: 'transcript',
    term: 'transcript [options] <alertId>',
    description: "Print an alert's full record: details, every message both ways, the verdict (from the store only)",
    load: async () => (await import('./transcript.js')).addTranscriptCommand,
  },
  {
    name: 'store',
    term: 'store',
    description: 'Move the store between lowdb files and PostgreSQL',
    load: async () => (await import('./store.js')).addStoreCommand,
  },
];

/** The description `irbot --help` shows for command `name`: each module describes itself with it, so that both agree. */
export function commandDescription(name: string): string {
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) throw new Error(`no command ${name} in src/cli/commands.ts`);
  return entry.description;
}
