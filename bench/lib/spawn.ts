// Runs the built `bin/irbot` as a user would, with an environment built by hand, and times it to its exit.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: dist-bench/bench/lib → ../../.. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = resolve(ROOT, 'bin/irbot');

export interface Timed {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Milliseconds from spawn to exit of `node args…`; output is collected, not shown. */
export function timeNode(args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<Timed> {
  return new Promise((resolvePromise, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ ms: performance.now() - start, code, stdout, stderr }));
  });
}

/** The environment irbot gets in the bench: nothing from this shell but PATH, no NODE_ENV, no colours. */
export function cliEnv(home: string): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: home, NO_COLOR: '1' };
}

/** Runs `irbot …` `times` times in a row and returns every duration; throws on a failing run. */
export async function timeIrbot(args: string[], times: number, cwd: string): Promise<number[]> {
  const durations: number[] = [];
  for (let i = 0; i < times; i++) {
    const run = await timeNode([BIN, ...args], { cwd, env: cliEnv(cwd) });
    if (run.code !== 0) {
      throw new Error(`irbot ${args.join(' ')} exited ${run.code}: ${(run.stderr || run.stdout).trim().slice(0, 300)}`);
    }
    durations.push(run.ms);
  }
  return durations;
}
