// Runs the real `bin/irbot` as a child process in a temp workspace, with an environment built by hand.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lockStore } from '../../src/store/lock.js';

export const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/irbot');

export const ALERTS_TOML = `
[[alerts]]
id = "pivot"
name = "Pivoting"
description = "User was found pivoting from one host to another"
user_id = "U0HAROLD"

[alerts.properties]
source_host = "source.machine.org"
destination_host = "destination.machine.org"

[[alerts]]
id = "privesc"
name = "Privileged Escalation"
description = "Privileged escalation was detected"
user_id = "U0HAROLD"

[alerts.properties]
previous_role = "reader"
new_role = "admin"
`;

export interface Workspace {
  dir: string;
  dbPath: string;
  env: Record<string, string>;
}

/** A temp dir with config.toml and alerts.toml, and env pointing every client at the local servers. */
export async function makeWorkspace(opts: {
  slackApiUrl: string;
  openaiBaseUrl?: string;
  config?: string;
  env?: Record<string, string>;
}): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'irbot-e2e-'));
  const base =
    opts.config ?? 'feed_channel_id = "C0FEED"\ndatabase_path = "./db.json"\nmax_nudges = 1\nllm_timeout_seconds = 5\n';
  // The local Slack enforces no limits: pace at a hundred times Slack's so that tests do not wait on the budget.
  // Before the first table ([step_up]…), where a key would belong to that table; else last, keeping line numbers.
  const table = base.search(/^\[/m);
  const config = base.includes('slack_rate_scale')
    ? base
    : table < 0
      ? `${base}slack_rate_scale = 100\n`
      : `${base.slice(0, table)}slack_rate_scale = 100\n${base.slice(table)}`;
  await writeFile(join(dir, 'config.toml'), config);
  await writeFile(join(dir, 'alerts.toml'), ALERTS_TOML);
  return {
    dir,
    dbPath: join(dir, 'db.json'),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      NO_COLOR: '1',
      // Every commit is read back from disk and compared with memory (see vitest.config.ts).
      IRBOT_STORE_VERIFY: '1',
      SLACK_BOT_TOKEN: 'xoxb-local-sandbox',
      SOCKET_APP_TOKEN: 'xapp-local-sandbox',
      OPENAI_API_KEY: 'sk-test-key-123456',
      SLACK_API_URL: opts.slackApiUrl,
      ...(opts.openaiBaseUrl ? { OPENAI_BASE_URL: opts.openaiBaseUrl } : {}),
      ...opts.env,
    },
  };
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcessWithoutNullStreams;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves once stdout or stderr matches; rejects with both streams when the process exits or time runs out. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<Result>;
  write(line: string): void;
  stop(signal?: NodeJS.Signals): Promise<Result>;
}

export function startIrbot(args: string[], ws: Workspace, opts: { env?: Record<string, string> } = {}): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ws.dir, env: { ...ws.env, ...opts.env } });
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  const notify = () => {
    for (const w of [...watchers]) w();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    notify();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    notify();
  });
  const exited = new Promise<Result>((done) => {
    child.on('close', (code) => {
      done({ code, stdout, stderr });
      notify();
    });
  });
  let closed = false;
  void exited.then(() => {
    closed = true;
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    waitFor(pattern, timeoutMs = 10_000) {
      return new Promise((resolveWait, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out waiting for ${pattern}`)), timeoutMs);
        const check = () => {
          if (pattern.test(stdout) || pattern.test(stderr)) finish();
          else if (closed) finish(new Error(`irbot exited before ${pattern}`));
        };
        const finish = (err?: Error) => {
          clearTimeout(timer);
          watchers.delete(check);
          if (err) reject(new Error(`${err.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
          else resolveWait();
        };
        watchers.add(check);
        check();
      });
    },
    exited,
    write(line) {
      child.stdin.write(`${line}\n`);
    },
    async stop(signal = 'SIGINT') {
      if (!closed) child.kill(signal);
      return exited;
    },
  };
}

/** Runs irbot to completion with stdin closed. */
export async function runIrbot(
  args: string[],
  ws: Workspace,
  opts: { env?: Record<string, string>; input?: string } = {},
): Promise<Result> {
  const running = startIrbot(args, ws, opts);
  running.child.stdin.end(opts.input ?? '');
  return running.exited;
}

/**
 * kill -9 at a moment the process holds no store lock (the test holds it meanwhile): what a test crashes is the
 * work in flight, and a lock left by a process killed mid-transaction would make the next one wait its stale time.
 */
export async function crash(running: Running, ws: Workspace): Promise<Result> {
  const release = await lockStore(ws.dbPath);
  try {
    return await running.stop('SIGKILL');
  } finally {
    await release();
  }
}
