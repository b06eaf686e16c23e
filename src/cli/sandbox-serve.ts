// `irbot sandbox --serve`: the local Slack workspace, a local OpenAI-compatible server, a local Duo, a local
// PagerDuty and a local sink receiver, running until Ctrl-C, so that every other command (doctor, send-alert, listen, chat) can be tried
// without a workspace or a key.
import { createInterface } from 'node:readline';
import { ConfigError } from '../config/errors.js';
import { ACTION_IDS } from '../slack/blocks.js';
import { neutraliseLine } from '../untrusted-text.js';
import type { Deps } from './deps.js';
import { feedPrinter } from './feed-view.js';
import { chalkFor, hanging, widthOf } from './render.js';
import { answerPush, pushAnswerOf, pushLine, startPhone } from './sandbox-phone.js';
import { formatSlackText } from './slack-format.js';

const PERSON = 'U0HAROLD';
const ANALYST = 'U0ANALYST';
const OPENAI_KEY = 'sk-local-sandbox';
/** The shape of a PagerDuty routing key (32 letters and digits), for the local PagerDuty only. */
const PAGERDUTY_KEY = 'irbotsandboxroutingkey0000000000';
/** The local sink's signing secret, and the variable the printed `[[sinks]]` entry names. */
const SINK_SECRET = 'irbot-sandbox-sink-secret';
const SINK_SECRET_ENV = 'IRBOT_SANDBOX_SINK_SECRET';

export async function serveSandbox(deps: Deps, port: number): Promise<void> {
  const [{ LocalSlack }, { startFakeOpenAi }, { startLocalPagerDuty, describeEvent }, { LocalSink }] =
    await Promise.all([
      import('../sandbox/local-slack.js'),
      import('../sandbox/local-openai.js'),
      import('../sandbox/local-pagerduty.js'),
      import('../sandbox/local-sink.js'),
    ]);
  const slack = await LocalSlack.start({ port }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
      const why = err.code === 'EADDRINUSE' ? 'is in use' : 'needs privileges';
      throw new ConfigError(
        `--port ${port}: port ${port} on 127.0.0.1 ${why}; pick another, or leave --port out for any free one`,
      );
    }
    throw err;
  });
  const openai = await startFakeOpenAi({ models: ['gpt-4.1-mini', 'gpt-4o-mini'], apiKey: OPENAI_KEY });
  const duo = await startPhone();
  // A page is shown as on-call would get it; its summary names the alert and the person, so it is neutralised.
  const pagerduty = await startLocalPagerDuty({
    routingKey: PAGERDUTY_KEY,
    onEvent: (event, _, opened) =>
      deps.stdout.write(`  PagerDuty    │ ${neutraliseLine(describeEvent(event, opened))}\n`),
  });
  // Each event as the receiver got it: checked signature, idempotency key.
  const sink = await LocalSink.start({
    secret: SINK_SECRET,
    onAnswered: (request) =>
      deps.stdout.write(
        `  Sink         │ ${neutraliseLine(`${request.event ?? '?'} ${request.key} → ${request.status}${request.refused ? ` (${request.refused})` : ', signature checked'}`)}\n`,
      ),
  });
  const stopped = deps.nextSignal();
  // Started by npx (npm_command=exec), irbot is this folder's, not on PATH: the next commands need npx too.
  const run = deps.env.npm_command === 'exec' ? 'npx irbot ' : 'irbot ';
  try {
    deps.stdout.write(
      [
        "irbot's local sandbox is running: a Slack workspace, an OpenAI-compatible server, Duo, PagerDuty and a sink",
        'receiver on 127.0.0.1.',
        'In another terminal, in the folder with config.toml (feed_channel_id = "C0FEED") and alerts.toml:',
        '',
        `  export SLACK_API_URL=${slack.apiUrl}`,
        `  export SLACK_BOT_TOKEN=${slack.botToken} SOCKET_APP_TOKEN=${slack.appToken}`,
        `  export OPENAI_BASE_URL=${openai.baseURL} OPENAI_API_KEY=${OPENAI_KEY}`,
        `  export DUO_API_URL=${duo.apiUrl} DUO_INTEGRATION_KEY=${duo.integrationKey} DUO_SECRET_KEY=${duo.secretKey}`,
        `  export PAGERDUTY_API_URL=${pagerduty.url} PAGERDUTY_ROUTING_KEY=${PAGERDUTY_KEY}`,
        `  export ${SINK_SECRET_ENV}=${SINK_SECRET}`,
        `  ${run}doctor && ${run}send-alert pivot && ${run}listen`,
        '',
        'For step-up, add to config.toml: [step_up] provider = "duo" and api_hostname = "api-local.duosecurity.com"',
        '(DUO_API_URL sends the calls here instead). For the outcome events, add:',
        `[[sinks]] url = "${sink.url}" and secret_env = "${SINK_SECRET_ENV}".`,
        '',
        'Here, type as Harold (U0HAROLD) to answer the bot in his DM, or press the buttons of an alert as the analyst:',
        '/start <alertId>, /dismiss <alertId>, /end <alertId>; /approve or /deny answers a Duo push on his phone.',
        'Ctrl-C stops the sandbox.',
        '',
      ].join('\n'),
    );
    const show = feedPrinter(deps, slack);
    const chalk = chalkFor(deps.stdout, deps.env);
    slack.on('message', (message) => {
      show(message);
      if (message.channel === slack.dmChannelOf(PERSON) && message.bot_id && message.change === 'posted') {
        const text = formatSlackText(message.text, { chalk, nameOf: (userId) => slack.displayNameOf(userId) });
        deps.stdout.write(`  DM to Harold │ ${hanging(text, 17, widthOf(deps.stdout))}\n`);
      }
    });
    duo.on('push', (push) => deps.stdout.write(pushLine(push)));
    const rl = createInterface({ input: deps.stdin, terminal: false });
    rl.on('line', (line) => void act(line.trim()).catch((err) => deps.stderr.write(`${String(err)}\n`)));
    const act = async (line: string) => {
      const click = /^\/(start|dismiss|end)\s+(\S+)$/.exec(line);
      const answer = pushAnswerOf(line);
      if (answer) {
        deps.stdout.write(answerPush(duo, answer));
      } else if (click) {
        const actionId = { start: ACTION_IDS.start, dismiss: ACTION_IDS.dismiss, end: ACTION_IDS.end }[
          click[1] as 'start' | 'dismiss' | 'end'
        ];
        const alert = slack.history('C0FEED').find((m) => JSON.stringify(m.blocks ?? []).includes(`"${click[2]}"`));
        if (!alert) return void deps.stdout.write(`No alert ${neutraliseLine(click[2] ?? '')} in the feed channel.\n`);
        await slack.clickButton({ userId: ANALYST, actionId, value: click[2], channel: 'C0FEED', messageTs: alert.ts });
      } else if (line !== '') {
        await slack.sendDm({ userId: PERSON, text: line });
      }
    };
    await stopped;
    rl.close();
  } finally {
    await slack.close();
    await openai.close();
    await duo.close();
    await pagerduty.close();
    await sink.close();
  }
}
