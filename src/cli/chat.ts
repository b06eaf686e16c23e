// `irbot chat`: start (or resume) the chat of an alert and follow it live; typed lines go to the person.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { Applied } from '../app.js';
import { isClosed, needsReview, outsideHoursText, reviewWords } from '../chat/engine.js';
import type { Actor } from '../chat/types.js';
import { httpEventsOnly, requireEnv } from '../config/env.js';
import { ConfigError } from '../config/errors.js';
import type { LogFields } from '../log.js';
import { type AlertRecord, findAlert, type Store } from '../store/port.js';
import { neutraliseLine } from '../untrusted-text.js';
import { commandDescription } from './commands.js';
import type { Deps } from './deps.js';
import { progressLine } from './progress.js';
import { chalkFor, eraseEcho, hanging, renderEntry, stepUpWords, verdictColour, widthOf } from './render.js';
import { buildApp, buildSlack, StoppedConnecting, serve, socketOf } from './runtime.js';
import { loadSetup, openStore, type Setup } from './setup.js';

/** Outbox effects that wait on the LLM: the terminal says so while they are pending. */
const LLM_WORK = new Set(['Greet', 'Nudge', 'Classify', 'Summarise']);

/** What the analyst can type besides lines for the person: /end ends the chat, /now starts a scheduled one at once. */
const TYPED_COMMANDS: Readonly<Record<string, 'end' | 'start_now'>> = { '/end': 'end', '/now': 'start_now' };

export function addChatCommand(program: Command, deps: Deps): void {
  program
    .command('chat')
    .description(commandDescription('chat'))
    .argument('[alertId]', 'alert id from send-alert or status (without it, pick one on a terminal)')
    .option('--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)')
    .action(async (alertIdArg: string | undefined, opts: { config?: string }) => {
      // In an HTTP events deployment (SLACK_SIGNING_SECRET, no app token) the replicas behind the Request URL take
      // the person's replies; this process acts through the store and its view follows the store.
      const loaded = await loadSetup(deps, opts.config, ['slackBotToken', 'openaiApiKey']);
      const storeOnly = httpEventsOnly(loaded.env);
      if (!storeOnly) requireEnv(loaded.env, ['socketAppToken']);
      // The terminal is the chat's view: only warnings and errors are logged there, not every event.
      const setup = {
        ...loaded,
        oneShot: true,
        log: (message: string, fields?: LogFields) => {
          if (fields?.level === 'warn' || fields?.level === 'error') loaded.log(message, fields);
        },
      };
      const store = openStore(setup.config, setup.log);
      const alertId = alertIdArg ?? (await pickAlertId(store, deps));
      const alert = await findAlert(store, alertId);
      if (!alert) throw new ConfigError(`Unknown alert '${alertId}': irbot status --all lists the alerts`);
      if (isClosed(alert.chat)) {
        throw new ConfigError(
          `Alert '${alertId}' is already ${alert.chat.state}: irbot status --all shows how it ended`,
        );
      }
      if (alert.suppressed)
        throw new ConfigError(
          `Alert '${alertId}' was suppressed by snooze ${alert.suppressed.snoozeId}: it was never posted; to ask the person anyway, irbot snooze rm ${alert.suppressed.snoozeId} and send the alert again`,
        );
      if (!alert.ts)
        throw new ConfigError(
          `Alert '${alertId}' is not in Slack yet: a running irbot listen posts it (or a send-alert with its dedupe_key)`,
        );

      const app = buildApp(setup, deps, store);
      const analyst: Actor = { id: deps.osUser(), via: 'terminal' };
      const interrupted = deps.nextSignal();
      const progress = progressLine(deps.stderr);
      progress.show('connecting to Slack…');
      let serving: Awaited<ReturnType<typeof serve>>;
      try {
        serving = await serve(app, storeOnly ? 'store-only' : socketOf(setup), setup.log, interrupted).finally(() =>
          progress.clear(),
        );
      } catch (err) {
        // Ctrl-C while Slack was still being reached: nothing started, nothing to detach from.
        if (!(err instanceof StoppedConnecting)) throw err;
        deps.stdout.write('Stopped before Slack was reached: nothing was sent.\n');
        return;
      }
      // Shows the transcript so far first, then follows it, whichever process records what happens.
      const personName = await displayNameOf(alert, setup);
      const view = followChat(store, alertId, deps, personName);
      if (alert.chat.state === 'posted') await app.request(alertId, 'start', analyst);
      // Every typed line is sent, kept for when the chat starts, or refused on screen with the reason.
      const typed = new Set<Promise<unknown>>();
      const input = readAnalyst(deps, (line) => {
        const text = line.trim();
        if (text === '') return;
        const command = TYPED_COMMANDS[text];
        const done = (command ? app.request(alertId, command, analyst) : app.say(alertId, text, analyst))
          .then((applied) => inputNote(applied, command, neutraliseLine(personName), () => findAlert(store, alertId)))
          .then((note) => note && deps.stderr.write(`${note}\n`))
          .catch((err) => setup.log(`could not send: ${String(err)}`, { event: 'analyst_input', level: 'error' }))
          .finally(() => typed.delete(done));
        typed.add(done);
      });
      const how = await Promise.race([view.ended.then(() => 'ended' as const), interrupted]);
      input.close();
      await Promise.all([...typed]);
      await serving.stop();
      view.stop();
      if (how !== 'ended') {
        deps.stdout.write(
          `Detached: the chat stays open. Resume with \`irbot chat ${alertId}\`, or run \`irbot listen\`.\n`,
        );
      }
    });
}

/** Asks which of several choices; the real one is @inquirer/prompts' select, tests script it. */
export type Select = (question: { message: string; choices: { name: string; value: string }[] }) => Promise<string>;

const inquirerSelect: Select = async (question) => {
  const { select } = await import('@inquirer/prompts');
  return select(question);
};

/** On a terminal, the analyst picks one of the alerts that have no chat yet, newest first. */
export async function pickAlertId(store: Store, deps: Deps, select: Select = inquirerSelect): Promise<string> {
  if (!deps.stdin.isTTY || !deps.stdout.isTTY) {
    throw new ConfigError(
      'No alert id given and no terminal to pick one on: pass one, e.g. irbot chat <alertId> (irbot status --all lists them)',
    );
  }
  const waiting = Object.values((await store.read()).alerts)
    .filter((a) => a.chat.state === 'posted' && a.ts)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  if (waiting.length === 0) throw new ConfigError('No alert is waiting for a chat: post one with irbot send-alert');
  return select({
    message: 'Which alert?',
    choices: waiting.map((a) => ({
      name: `${a.id}  ${neutraliseLine(a.name)} — ${neutraliseLine(a.personName ?? a.userId)}`,
      value: a.id,
    })),
  });
}

/** The person's name as the view shows it: the stored one, else Slack's (users.info), else their id. */
async function displayNameOf(alert: AlertRecord, setup: Setup): Promise<string> {
  if (alert.personName) return alert.personName;
  try {
    return await buildSlack(setup.env.slackBotToken ?? '', setup.env.slackApiUrl, setup.log).userName(alert.userId);
  } catch {
    return alert.userId;
  }
}

/** Prints the transcript so far, then every new line as it lands in the store, from whichever process. */
export function followChat(
  store: Store,
  alertId: string,
  deps: Deps,
  personName: string,
): { ended: Promise<void>; stop: () => void } {
  const chalk = chalkFor(deps.stdout, deps.env);
  const progress = progressLine(deps.stderr);
  /** The lines shown so far, counted by what they are: a line that crossed the bot's DM lands before it (Slack's order). */
  const shown = new Map<string, number>();
  let lastState = '';
  let finish: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let busy = false;
  /** A change told while a look was under way: looked at once that one is done, never dropped. */
  let again = false;
  const refresh = async (): Promise<void> => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    again = false;
    try {
      // Closed chats move to the archive after a while: a view left open finds it there.
      const { alerts } = await store.read();
      const alert = alerts[alertId] ?? (await findAlert(store, alertId));
      if (!alert) return;
      progress.clear();
      const name = alert.personName ?? personName;
      // Mentions are named from what the store knows: the names of the people its alerts are about.
      const nameOf = (userId: string) =>
        userId === alert.userId ? name : Object.values(alerts).find((a) => a.userId === userId)?.personName;
      const view = { width: widthOf(deps.stdout), nameOf };
      // What one look at the store shows is written at once: its lines arrive together, in order.
      let out = '';
      const seen = new Map<string, number>();
      for (const entry of alert.transcript) {
        const key = JSON.stringify([entry.from, entry.at, entry.ts, entry.text]);
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        if (n <= (shown.get(key) ?? 0)) continue;
        shown.set(key, n);
        out += `${renderEntry(entry, chalk, name, view)}\n`;
      }
      // A closed chat's last line waits for its summary and the posts still owed.
      const settled = !isClosed(alert.chat) || alert.outbox.length === 0;
      if (alert.chat.state !== lastState && settled) {
        lastState = alert.chat.state;
        const line = hanging(`— ${stateLine(alert, name)}`, 2, view.width);
        out += `${verdictColour(chalk, { ...alert.chat, needs_review: needsReview(alert.chat) }, chalk.magenta)(line)}\n`;
      }
      if (out !== '') deps.stdout.write(out);
      if (isClosed(alert.chat) && alert.outbox.length === 0) finish();
      else if (alert.outbox.some((item) => LLM_WORK.has(item.effect.type))) progress.show('waiting for the LLM…');
      else if (alert.outbox.some((item) => item.effect.type === 'PollPush')) {
        progress.show(`waiting for ${neutraliseLine(name)} to approve the Duo push…`);
      }
    } catch (err) {
      deps.stderr.write(`could not read the store: ${String(err)}\n`);
    } finally {
      busy = false;
    }
    if (again) await refresh();
  };
  void refresh();
  const unwatch = store.watch?.(() => void refresh());
  return {
    ended,
    stop: () => {
      unwatch?.();
      progress.clear();
    },
  };
}

/** What the chat is doing now, in a line; `who` is the person's name. Untrusted names are neutralised. */
export function stateLine(alert: AlertRecord, who: string = alert.personName ?? alert.userId): string {
  const name = neutraliseLine(alert.name);
  const person = neutraliseLine(who);
  switch (alert.chat.state) {
    case 'posted':
      return `alert ${alert.id} (${name}) is waiting for a chat`;
    case 'queued':
      return `${person} is in another chat; this one starts when that one ends`;
    case 'scheduled':
      return `${alert.chat.schedule ? outsideHoursText(alert.chat.schedule, person) : `${person} is outside working hours`} — /now starts it at once`;
    case 'active':
      return `chat with ${person} about ${name} is open: type to write to them, /end to end it, Ctrl-C to detach`;
    case 'dismissed':
      return 'alert dismissed: no action necessary';
    case 'failed':
      return `chat failed: ${neutraliseLine(alert.chat.failure ?? 'Slack refused')}`;
    case 'ended': {
      const aware = alert.chat.aware === null ? '' : alert.chat.aware ? ', aware' : ', not aware';
      const review = needsReview(alert.chat) ? ` — needs review: ${reviewWords(alert.chat)}` : '';
      return `chat ended: ${alert.chat.outcome}${aware}${stepUpWords(alert.chat.verified)}${review}`;
    }
  }
}

/** What the analyst is told about a typed line, /end or /now that did not simply do what it says; null when it did. */
async function inputNote(
  applied: Applied,
  command: 'end' | 'start_now' | undefined,
  who: string,
  current: () => Promise<AlertRecord | undefined>,
): Promise<string | null> {
  if (applied.kind !== 'applied') return 'not sent: this alert is no longer open (irbot status --all shows it)';
  const { before, after } = applied;
  if (command === 'start_now') return before === 'scheduled' ? null : `nothing to start now: this chat is ${before}`;
  if (command === 'end') {
    if ((before === 'queued' || before === 'scheduled') && after === 'ended') {
      const kept = (await current())?.chat.held?.length ?? 0;
      if (kept === 0) return null;
      return `the chat ended before it started: ${kept === 1 ? 'the line' : `the ${kept} lines`} kept for ${who} ${kept === 1 ? 'was' : 'were'} not sent`;
    }
    return before === after ? `nothing to end: this chat is ${before}` : null;
  }
  switch (before) {
    case 'active':
      return null;
    case 'queued':
      return `kept: ${who} is in another chat; this line is sent after the greeting when this chat starts`;
    case 'scheduled':
      return `kept: ${who} is outside working hours; this line is sent after the greeting when this chat starts`;
    case 'posted':
      return 'not sent: this chat has not started';
    default:
      return `not sent: this chat is ${before}, nothing more goes to ${who}`;
  }
}

function readAnalyst(deps: Deps, onLine: (line: string) => void): { close: () => void } {
  const rl = createInterface({ input: deps.stdin, terminal: false });
  const columns = deps.stdin.isTTY ? widthOf(deps.stdout) : undefined;
  rl.on('line', (line) => {
    if (columns !== undefined) deps.stdout.write(eraseEcho(line, columns));
    onLine(line);
  });
  return { close: () => rl.close() };
}
