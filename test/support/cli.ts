// Runs an irbot command in this process, through the CLI's own entry point (`main`) with the workspace's cwd and
// environment: the same code as `bin/irbot`, without the ~0.6 s of CPU a spawned Node costs. For a test's setup and
// read-backs (post an alert, read `status --json`); what a test is about still runs the real binary (irbot.ts).
import { watch } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { realDeps } from '../../src/cli/deps.js';
import { main } from '../../src/cli/main.js';
import { openPgStore } from '../../src/store/pg/pg-store.js';
import type { Result, Workspace } from './irbot.js';

type CliOptions = { env?: Record<string, string>; input?: string; clock?: () => Date };

/**
 * The first run of each command (per store kind), one at a time. `main` imports a command's modules when it first
 * runs; vitest's module runner hands a module still being evaluated to a second, concurrent importer, which then
 * fails with "Cannot access '__vite_ssr_import_N__' before initialization" (seen in `describe.concurrent` files
 * run alone). Once a command has run, its modules are loaded whole and its later runs go side by side.
 */
const warmedUp = new Map<string, Promise<unknown>>();
let firstRuns: Promise<unknown> = Promise.resolve();

export async function runCli(args: string[], ws: Workspace, opts: CliOptions = {}): Promise<Result> {
  const key = `${args[0]} ${ws.env.DATABASE_URL || opts.env?.DATABASE_URL ? 'pg' : 'json'}`;
  const warm = warmedUp.get(key);
  if (warm) {
    await warm;
    return runInProcess(args, ws, opts);
  }
  const run = firstRuns.then(() => runInProcess(args, ws, opts));
  firstRuns = run.catch(() => undefined);
  warmedUp.set(key, firstRuns);
  return run;
}

async function runInProcess(args: string[], ws: Workspace, opts: CliOptions): Promise<Result> {
  const capture = () => {
    let text = '';
    const stream = new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        text += chunk.toString();
        done();
      },
    });
    return { stream, text: () => text };
  };
  const out = capture();
  const err = capture();
  const code = await main(['node', 'irbot', ...args], {
    ...realDeps(),
    cwd: ws.dir,
    env: { ...ws.env, ...opts.env },
    stdin: Readable.from([opts.input ?? '']),
    stdout: out.stream,
    stderr: err.stream,
    ...(opts.clock ? { clock: opts.clock } : {}),
    // A one-shot command never waits for a signal; nothing here may listen on the test process's own.
    nextSignal: () => new Promise<NodeJS.Signals>(() => undefined),
  });
  return { code, stdout: out.text(), stderr: err.text() };
}

/**
 * The alerts of `status --all --json` once `done` holds of them: read again each time a file of the workspace
 * changes (a process logs what it did just before it commits it), failing after `timeoutMs`.
 */
export async function untilStatus<T = Array<Record<string, unknown>>>(
  ws: Workspace,
  done: (alerts: Array<Record<string, unknown>>) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  // A store in PostgreSQL tells of its commits; the files of a lowdb store change in the workspace.
  const url = ws.env.DATABASE_URL;
  const listeners: Array<() => void> = [];
  const unwatch = url
    ? openPgStore(url).watch?.(() => {
        for (const heard of listeners.splice(0)) heard();
      })
    : undefined;
  const watcher = url ? undefined : watch(ws.dir);
  const changed = () =>
    new Promise<void>((resolve) => (watcher ? watcher.once('change', () => resolve()) : listeners.push(resolve)));
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const next = changed();
      const alerts = JSON.parse((await runCli(['status', '--all', '--json'], ws)).stdout) as Array<
        Record<string, unknown>
      >;
      if (done(alerts)) return alerts as T;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`status never matched:\n${JSON.stringify(alerts, null, 2)}`);
      await Promise.race([next, new Promise((resolve) => setTimeout(resolve, left).unref())]);
    }
  } finally {
    watcher?.close();
    unwatch?.();
  }
}
