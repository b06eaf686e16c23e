// Harold's phone in the sandbox: a local Duo whose pushes to him wait for /approve or /deny typed in the terminal.
import { type DuoPush, type LocalDuo, type PushAnswer, phoneText } from '../sandbox/local-duo.js';
import { neutraliseLine } from '../untrusted-text.js';

/** The sandbox person's Duo username: his Slack email, as `username_from = "email"` makes it. */
export const PHONE_USER = 'harold@example.com';

/** What the sandbox asks of step-up: a push whose answer waits for the terminal, one `retry` after a timeout. */
export const SANDBOX_STEP_UP = {
  provider: 'duo',
  usernameFrom: 'email',
  pushTimeoutSeconds: 60,
  retries: 1,
} as const;

export async function startPhone(): Promise<LocalDuo> {
  const { LocalDuo } = await import('../sandbox/local-duo.js');
  return LocalDuo.start({ users: { [PHONE_USER]: 'manual' } });
}

/** `Harold's phone │ irbot: Pivoting, alert pivot-tt2k9x3fa1 — approve? /approve or /deny` */
export function pushLine(push: DuoPush): string {
  return `  Harold's phone │ ${neutraliseLine(phoneText(push))} — approve? /approve or /deny\n`;
}

/** The answer a terminal line gives Harold's waiting push, if it is one (`/approve`, `/deny`, `/fraud`). */
export function pushAnswerOf(line: string): PushAnswer | undefined {
  const match = /^\/(approve|deny|fraud)$/.exec(line.trim());
  return match ? (match[1] as PushAnswer) : undefined;
}

/** Answers Harold's waiting push; a line saying so, or that none waits. */
export function answerPush(duo: LocalDuo, answer: PushAnswer): string {
  try {
    duo.answer(PHONE_USER, answer);
    return `  Harold's phone │ ${answer === 'approve' ? 'approved' : answer === 'deny' ? 'denied' : 'reported as fraud'}\n`;
  } catch {
    return "  Harold's phone │ no push is waiting\n";
  }
}
