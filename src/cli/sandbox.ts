// `irbot sandbox`: the whole flow with no Slack workspace and no OpenAI key, on a local Slack and offline texts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChalkInstance } from 'chalk';
import type * as Commander from 'commander';
import type { Command } from 'commander';
import { App } from '../app.js';
import { needsReview, STEP_UP_AGAIN, STEP_UP_ASK, stepUpFailed } from '../chat/engine.js';
import { isKnownZone } from '../chat/working-hours.js';
import { requireCjs } from '../cjs.js';
import { pickAlert } from '../config/alerts.js';
import type { AlertTemplate } from '../config/types.js';
import { createOfflineWriter } from '../llm/offline-writer.js';
import { stderrLog } from '../log.js';
import type { DuoPush, LocalDuo } from '../sandbox/local-duo.js';
import type { LocalSlack, MessageNotice } from '../sandbox/local-slack.js';
import { ACTION_IDS } from '../slack/blocks.js';
import { createPacer } from '../slack/pacer.js';
import { openLowdbStore } from '../store/lowdb-store.js';
import type { AlertRecord } from '../store/port.js';
import { neutraliseLine } from '../untrusted-text.js';
import { createDuoVerifier } from '../verify/duo.js';
import { commandDescription } from './commands.js';
import type { Deps } from './deps.js';
import { feedPrinter } from './feed-view.js';
import { chalkFor, stepUpWords, verdictColour } from './render.js';
import { buildSlack, type Serving, serve } from './runtime.js';
import { answerPush, pushAnswerOf, pushLine, SANDBOX_STEP_UP, startPhone } from './sandbox-phone.js';
import { serveSandbox } from './sandbox-serve.js';

const { InvalidArgumentError } = requireCjs('commander') as typeof Commander;

const FEED = 'C0FEED';
const PERSON = 'U0HAROLD';
const ANALYST = 'U0ANALYST';

/** The seed's two example alerts, about the sandbox's fake person. */
export const SANDBOX_ALERTS: AlertTemplate[] = [
  {
    id: 'pivot',
    name: 'Pivoting',
    description: 'User was found pivoting from one host to another',
    userId: PERSON,
    properties: { source_host: 'source.machine.org', destination_host: 'destination.machine.org' },
  },
  {
    id: 'privesc',
    name: 'Privileged Escalation',
    description: 'Privileged escalation was detected',
    userId: PERSON,
    properties: { previous_role: 'reader', new_role: 'admin' },
  },
];

/** What the fake person answers when nobody is at a terminal to type for them. */
const SCRIPTED_REPLIES = [
  'hmm, what is this about?',
  'yes, that was me: I copied build artifacts to the new host for the migration',
];

export function addSandboxCommand(program: Command, deps: Deps): void {
  program
    .command('sandbox')
    .description(commandDescription('sandbox'))
    .argument('[templateId]', 'pivot or privesc (default: one at random)')
    .option('--max-nudges <n>', 'nudges before a chat ends as no answer (0 to 20)', parseNudges, 2)
    .option(
      '--serve',
      'only run the local servers (Slack, OpenAI-compatible, Duo, PagerDuty, a sink receiver) for the other irbot commands',
    )
    .option('--port <port>', 'with --serve: the local Slack’s port (default: any free one)', parsePort)
    .option(
      '--tz <zone>',
      'Harold’s Slack time zone, e.g. Pacific/Auckland: irbot keeps his working hours (09:00-18:00, Mon-Fri) in it',
      parseZone,
    )
    .action(async (templateId: string | undefined, opts: SandboxOptions) => {
      if (opts.serve) return serveSandbox(deps, opts.port ?? 0);
      const template = pickAlert(SANDBOX_ALERTS, templateId, deps.random);
      const dir = await mkdtemp(join(tmpdir(), 'irbot-sandbox-'));
      const { LocalSlack, DEFAULT_USERS } = await import('../sandbox/local-slack.js');
      const users = DEFAULT_USERS.map((user) => (user.id === PERSON && opts.tz ? { ...user, tz: opts.tz } : user));
      const [slack, duo] = await Promise.all([LocalSlack.start({ users }), startPhone()]);
      const log = stderrLog(deps.stderr, deps.clock);
      const quiet = () => undefined;
      const store = openLowdbStore(join(dir, 'irbot-db.json'));
      const app = new App(
        {
          slack: buildSlack(slack.botToken, slack.apiUrl, log),
          // The local Slack has no rate limits; ten times Slack's keeps the demo brisk and still paced.
          pacer: createPacer({ scale: 10 }),
          llm: createOfflineWriter(),
          store,
          clock: deps.clock,
          newId: deps.newId,
          log: quiet,
          verifier: createDuoVerifier({
            integrationKey: duo.integrationKey,
            secretKey: duo.secretKey,
            baseUrl: duo.apiUrl,
          }),
        },
        {
          feedChannelId: FEED,
          maxNudges: opts.maxNudges,
          nudgeAfterMs: 2 * 60_000,
          responders: [],
          stepUp: SANDBOX_STEP_UP,
          ...(opts.tz ? { workingHours: SANDBOX_HOURS, maxWaitMs: 12 * 3_600_000 } : {}),
        },
      );
      const show = feedPrinter(deps, slack);
      let serving: Serving | undefined;
      try {
        serving = await serve(app, { appToken: slack.appToken, slackApiUrl: slack.apiUrl }, log);
        deps.stdout.write(
          `Local Slack workspace on ${slack.apiUrl} · local Duo on ${duo.apiUrl} · offline writer · store ${store.path}\n\n`,
        );
        slack.on('message', show);
        const { alert } = await app.postAlert(template);
        // Done when the alert message is closed; the summary may still be on its way, app.idle() waits for it.
        const ended = slack.waitForCall(
          (c) => c.method === 'chat.update' && /end_chat_(automatically|manually)/.test(JSON.stringify(c.args.blocks)),
          24 * 60 * 60 * 1000,
        );
        const click = (actionId: string) =>
          slack.clickButton({ userId: ANALYST, actionId, value: alert.id, channel: FEED, messageTs: alert.ts ?? '' });
        const endChat = () => click(ACTION_IDS.end);
        // The person's side listens before the chat starts, so that it never misses the greeting.
        const stopInput =
          deps.stdin.isTTY === true
            ? typeAsPerson(deps, slack, duo, endChat)
            : replyFromPipe(deps, slack, duo, endChat);
        await click(ACTION_IDS.start);
        if (opts.tz) await startIfScheduled(deps, slack, () => click(ACTION_IDS.startNow));
        await Promise.race([ended, deps.nextSignal()]);
        stopInput();
        await app.idle();
        const final = (await store.read()).alerts[alert.id];
        deps.stdout.write(`\n${endLine(final, chalkFor(deps.stdout, deps.env))}`);
        deps.stdout.write(' With a real workspace: see "Set up Slack" in the README.\n');
      } finally {
        await serving?.stop();
        await slack.close();
        await duo.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
}

/** On a terminal: every line is sent as the person's DM; /end presses End Chat; /approve and /deny answer a push. */
function typeAsPerson(deps: Deps, slack: LocalSlack, duo: LocalDuo, endChat: () => Promise<unknown>): () => void {
  deps.stdout.write(
    'Type as Harold and press Enter to reply to the bot; /approve or /deny answers a Duo push on his phone; /end ends the chat; Ctrl-C quits.\n',
  );
  const rl = createInterface({ input: deps.stdin, output: deps.stdout, terminal: true, prompt: 'Harold › ' });
  const onPush = (push: DuoPush) => deps.stdout.write(pushLine(push));
  duo.on('push', onPush);
  rl.on('line', (line) => {
    const text = line.trim();
    const answer = pushAnswerOf(text);
    if (answer) deps.stdout.write(answerPush(duo, answer));
    else if (text === '/end') void endChat();
    else if (text !== '') void slack.sendDm({ userId: PERSON, text });
  });
  rl.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
  return () => {
    duo.off('push', onPush);
    rl.close();
  };
}

/**
 * Without a terminal: each line piped in answers the bot's next message, read as it arrives (a pipe left open is
 * followed, not waited out); a pipe closed without a line plays the built-in script. A reply is sent and printed once
 * the bot's message it answers is in the thread, so the output reads in order. When the pipe is closed and its
 * lines are used up, the bot's next message gets End Chat. A Duo push takes the next line when it is /approve, /deny
 * or /fraud; with none left in a closed pipe, Harold approves it.
 */
function replyFromPipe(deps: Deps, slack: LocalSlack, duo: LocalDuo, endChat: () => Promise<unknown>): () => void {
  const lines: string[] = [];
  let piped = false;
  let closed = false;
  let unanswered = 0; // the bot's messages shown in the thread and not answered yet
  let hinted = false;
  let ended = false;
  let stopped = false;
  let pushes = 0; // pushes shown and not answered yet
  const answerPushes = () => {
    for (; pushes > 0; pushes--) {
      const next = lines[0] === undefined ? undefined : pushAnswerOf(lines[0]);
      if (next) lines.shift();
      else if (!closed || lines.length > 0) return; // its answer may still come down the pipe
      deps.stdout.write(answerPush(duo, next ?? 'approve'));
    }
  };
  const onPush = (push: DuoPush) => {
    if (stopped) return;
    deps.stdout.write(pushLine(push));
    pushes++;
    answerPushes();
  };
  duo.on('push', onPush);
  const answer = () => {
    if (stopped) return;
    answerPushes();
    for (let reply = lines[0]; unanswered > 0 && reply !== undefined && !pushAnswerOf(reply); reply = lines[0]) {
      lines.shift();
      unanswered--;
      deps.stdout.write(`  (Harold replies: ${neutraliseLine(reply)})\n`);
      void slack.sendDm({ userId: PERSON, text: reply }).catch(() => undefined); // the sandbox may be closing
    }
    if (unanswered === 0 || ended) return;
    if (closed) {
      ended = true;
      void endChat().catch(() => undefined);
    } else if (!hinted) {
      hinted = true;
      deps.stdout.write("  (waiting for Harold's reply on stdin, one line each; close it to end the chat)\n");
    }
  };
  const rl = createInterface({ input: deps.stdin, terminal: false });
  rl.on('line', (line) => {
    const text = line.trim();
    if (text === '') return;
    piped = true;
    lines.push(text);
    answer();
  });
  rl.on('close', () => {
    closed = true;
    if (!piped) lines.push(...SCRIPTED_REPLIES);
    answer();
  });
  const onMessage = (message: MessageNotice) => {
    if (message.channel !== FEED || message.change !== 'posted' || message.thread_ts === undefined) return;
    // A thread post may carry several relays; each of the bot's messages to Harold is one to answer, but for the
    // ones asking him to approve a push: the push itself is answered.
    const sent = (message.text ?? '').split(`Sent message to <@${PERSON}>`).slice(1);
    unanswered += sent.filter((relay) => !ASKS_FOR_PUSH.some((ask) => relay.includes(ask.slice(0, 40)))).length;
    answer();
  };
  slack.on('message', onMessage);
  return () => {
    stopped = true;
    duo.off('push', onPush);
    slack.off('message', onMessage);
    rl.close();
  };
}

/**
 * `Chat ended: answered, aware.`, green when aware, yellow when an analyst must confirm it (as every aware answer
 * the offline rules read), red when not aware (or failed).
 */
function endLine(alert: AlertRecord | undefined, chalk: ChalkInstance): string {
  if (!alert) return 'Chat unknown.';
  const { state, outcome, aware, verified } = alert.chat;
  const awareness = aware === null ? '' : aware ? ', aware' : ', not aware';
  // A refused push says more than a review would (as the alert's verdict line does).
  const review = needsReview(alert.chat) && !stepUpFailed(alert.chat);
  const words = `${outcome}${awareness}${stepUpWords(verified)}${review ? ' — needs review' : ''}`;
  return verdictColour(chalk, { ...alert.chat, needs_review: review })(`Chat ${state}${outcome ? `: ${words}` : ''}.`);
}

/** The bot's DMs that ask Harold to approve a push: his phone answers them, not a reply. */
const ASKS_FOR_PUSH = [STEP_UP_ASK, STEP_UP_AGAIN];

interface SandboxOptions {
  maxNudges: number;
  serve?: boolean;
  port?: number;
  tz?: string;
}

/** What `--tz` turns on: a typical office day, in Harold's zone. */
const SANDBOX_HOURS = { start: 9 * 60, end: 18 * 60, days: [1, 2, 3, 4, 5] };

/**
 * With `--tz`: once the alert message shows how the chat started, a chat that waits for Harold's working hours is
 * started now, as an analyst would with Start Chat now, so that the demo goes on.
 */
async function startIfScheduled(deps: Deps, slack: LocalSlack, startNow: () => Promise<unknown>): Promise<void> {
  const update = await slack.waitForCall(
    (c) => c.method === 'chat.update' && JSON.stringify(c.args.blocks ?? []).includes('started_chat'),
  );
  if (!JSON.stringify(update.args.blocks ?? []).includes('"block_id":"scheduled"')) return;
  deps.stdout.write('  (Harold is outside working hours: as the analyst, the sandbox presses Start Chat now)\n');
  await startNow();
}

function parseZone(value: string): string {
  if (!isKnownZone(value)) throw new InvalidArgumentError('must be an IANA time zone, e.g. Pacific/Auckland');
  return value;
}

function parseNudges(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 20) throw new InvalidArgumentError('must be a whole number from 0 to 20');
  return n;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('must be a port number (0 = any)');
  return n;
}
