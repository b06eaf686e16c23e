// `irbot listen` replicas as real processes (the built bin/irbot) sharing one PostgreSQL database and the local
// Slack, each in a UTS namespace of its own when the machine allows it, so that each has its own host name and a
// killed one's claims are taken over by lease expiry, as after the loss of a machine, not by the same-host pid check.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, cliEnv } from './spawn.js';

export interface ReplicaOptions {
  /** config.toml of every replica. */
  configToml: string;
  /** The working directory (config.toml is written there). */
  dir: string;
  /** Variables besides PATH, HOME and NO_COLOR: tokens, URLs, DATABASE_URL. */
  env: Record<string, string>;
  /** Each replica's log goes to `<logPrefix>-<k>.log`. */
  logPrefix: string;
}

export interface Replica {
  index: number;
  /** The host name its claims carry. */
  host: string;
  pid: number;
  child: ChildProcess;
  exited: Promise<void>;
  log: string;
}

/** Whether `unshare --uts` works here (root, or the capability to make namespaces): each replica its own host. */
export function ownHostsPossible(): boolean {
  const probe = spawnSync('unshare', ['--uts', 'sh', '-c', 'hostname irbot-probe && hostname'], { encoding: 'utf8' });
  return probe.status === 0 && probe.stdout.trim() === 'irbot-probe';
}

export class Replicas {
  readonly list: Replica[] = [];
  private readonly logs: WriteStream[] = [];

  private constructor(
    private readonly options: ReplicaOptions,
    readonly ownHosts: boolean,
  ) {}

  static async start(count: number, options: ReplicaOptions): Promise<Replicas> {
    await writeFile(join(options.dir, 'config.toml'), options.configToml);
    const replicas = new Replicas(options, ownHostsPossible());
    for (let k = 1; k <= count; k++) replicas.spawnOne(k);
    return replicas;
  }

  private spawnOne(index: number): void {
    const host = this.ownHosts ? `irbot-replica-${index}` : 'this host';
    const args = [BIN, 'listen', '--log-format', 'json', '--config', join(this.options.dir, 'config.toml')];
    // `exec` keeps one pid: the one killed is irbot itself.
    const child = this.ownHosts
      ? spawn('unshare', ['--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', host, process.execPath, ...args], {
          cwd: this.options.dir,
          env: { ...cliEnv(this.options.dir), ...this.options.env },
          stdio: ['ignore', 'ignore', 'pipe'],
        })
      : spawn(process.execPath, args, {
          cwd: this.options.dir,
          env: { ...cliEnv(this.options.dir), ...this.options.env },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
    const log = `${this.options.logPrefix}-${index}.log`;
    mkdirSync(join(log, '..'), { recursive: true });
    const stream = createWriteStream(log);
    this.logs.push(stream);
    child.stderr?.pipe(stream);
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    if (child.pid === undefined) throw new Error('could not start irbot listen');
    this.list.push({ index, host, pid: child.pid, child, exited, log });
  }

  /** Peak resident set size (VmHWM) of each replica still running, in MB. */
  peakRssMb(): number[] {
    return this.list.flatMap((r) => {
      try {
        const status = readFileSync(`/proc/${r.pid}/status`, 'utf8');
        const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
        return kb ? [Math.round((Number(kb) / 1024) * 10) / 10] : [];
      } catch {
        return [];
      }
    });
  }

  /** Log lines about failures, retries and fallbacks, per replica (read after stop). */
  async troubles(): Promise<number[]> {
    return Promise.all(
      this.list.map(async (r) => {
        const text = await readFile(r.log, 'utf8').catch(() => '');
        return text.split('\n').filter((line) => /fail|gave up|retry|rate limit|fallback|offline/i.test(line)).length;
      }),
    );
  }

  /** kill -9: no drain, no goodbye; resolves once the process is gone. */
  async kill(replica: Replica): Promise<void> {
    replica.child.kill('SIGKILL');
    await replica.exited;
  }

  /** SIGTERM to each (listen drains and exits), SIGKILL to any still running after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const running = this.list.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    for (const r of running) r.child.kill('SIGTERM');
    const all = Promise.all(running.map((r) => r.exited));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const r of running) r.child.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([all, late]);
    clearTimeout(timer);
    await all;
    await Promise.all(this.logs.map((s) => new Promise((resolve) => s.end(resolve))));
  }
}
