// The outside world a command may touch, handed in so tests can replace it.
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';

export interface Deps {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  clock: () => Date;
  random: () => number;
  newId: () => string;
  /** The analyst at this terminal, by OS user name. */
  osUser: () => string;
  /** Resolves with the name of the first SIGINT or SIGTERM from now on. */
  nextSignal: () => Promise<NodeJS.Signals>;
}

export function realDeps(): Deps {
  return {
    cwd: process.cwd(),
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    clock: () => new Date(),
    random: Math.random,
    newId: timedId,
    osUser: () => {
      try {
        return userInfo().username;
      } catch {
        return process.env.USER ?? 'analyst';
      }
    },
    nextSignal: () =>
      new Promise((resolve) => {
        const on = (signal: NodeJS.Signals) => {
          process.off('SIGINT', on);
          process.off('SIGTERM', on);
          resolve(signal);
        };
        process.on('SIGINT', on);
        process.on('SIGTERM', on);
      }),
  };
}

/**
 * An id's tail: the second it was made (base 36) and 16 random bits, e.g. `tt2k9x3fa1`. The working set is checked
 * for a clash before an id is used, and it holds every alert of the last minutes; a clash with an archived alert
 * would need the same second, so an archived alert is never shadowed by a new one (six random hex digits alone
 * clashed with one of 100,000 archived alerts of a template once in 170 alerts).
 */
export function timedId(now = Date.now()): string {
  return `${Math.floor(now / 1000).toString(36)}${randomBytes(2).toString('hex')}`;
}
