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
    newId: () => randomBytes(3).toString('hex'),
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
