// CPU time by who spent it, from /proc: an irbot replica, the PostgreSQL server (when it runs on this machine), the
// bench process itself. Where a campaign is CPU-bound, this says which part of the machine its time went to.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchDatabase } from './pg-database.js';
import { machineTicks, round } from './stats.js';

/** Linux's clock ticks per second in /proc (USER_HZ), 100 on every architecture Node runs on. */
const TICKS_PER_S = 100;

interface Times {
  ppid: number;
  /** Its own user and system time, and that of the children it reaped, in ticks. */
  own: number;
  reaped: number;
}

/** A process's times from /proc/<pid>/stat; null when it is gone or /proc cannot be read. */
function times(pid: number): Times | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The name (field 2) may hold spaces and parentheses: the fields are counted from after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
  const at = (n: number) => Number(fields[n - 3]);
  return { ppid: at(4), own: at(14) + at(15), reaped: at(16) + at(17) };
}

/** CPU seconds a process has used so far (not its children's); null when it is gone. */
export function processCpuSeconds(pid: number): number | null {
  const t = times(pid);
  return t ? t.own / TICKS_PER_S : null;
}

/** CPU seconds of this process so far. */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * The PostgreSQL server's CPU seconds so far, when it runs on this machine: the postmaster's own and its children's,
 * those it reaped (a backend that ended) and those alive (backends, the WAL writer, the checkpointer…). The
 * difference of two readings is what the server spent between them. Null when its data directory cannot be read
 * (a server elsewhere, or a user that may not see its settings).
 */
export async function postgresCpuSeconds(db: Pick<BenchDatabase, 'sql'>): Promise<(() => number | null) | null> {
  let postmaster: number;
  try {
    const [row] = await db.sql<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'data_directory'");
    if (!row) return null;
    postmaster = Number(readFileSync(join(row.setting, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
  } catch {
    return null;
  }
  if (!Number.isInteger(postmaster) || times(postmaster) === null) return null;
  return () => {
    const own = times(postmaster);
    if (!own) return null;
    let ticks = own.own + own.reaped;
    for (const entry of readdirSync('/proc')) {
      const child = /^\d+$/.test(entry) ? times(Number(entry)) : null;
      if (child?.ppid === postmaster) ticks += child.own;
    }
    return ticks / TICKS_PER_S;
  };
}

/** CPU seconds used so far, by who used them; null where unknown. */
export interface CpuReading {
  /** This process: the local servers, and irbot too when it runs in here (the lowdb campaigns). */
  bench: number;
  /** Each irbot replica (null: gone, e.g. the one failover killed). */
  replicas: (number | null)[];
  postgres: number | null;
  /** Every process of the machine. */
  machine: number | null;
}

/** What was spent between two readings, in seconds rounded to a tenth. */
export type CpuSpent = CpuReading;

/** A function that reads CPU use now: of this process, of the replicas `pids` names, and of `postgres`'s server. */
export async function cpuReader(
  opts: { pids?: () => number[]; postgres?: Pick<BenchDatabase, 'sql'> } = {},
): Promise<() => CpuReading> {
  const postgres = opts.postgres ? await postgresCpuSeconds(opts.postgres) : null;
  return () => {
    const machine = machineTicks();
    return {
      bench: ownCpuSeconds(),
      replicas: (opts.pids?.() ?? []).map(processCpuSeconds),
      postgres: postgres?.() ?? null,
      machine: machine ? machine.busy / TICKS_PER_S : null,
    };
  };
}

export function cpuSpent(from: CpuReading, to: CpuReading): CpuSpent {
  const spent = (a: number | null | undefined, b: number | null | undefined) =>
    a === null || a === undefined || b === null || b === undefined ? null : round(b - a, 1);
  return {
    bench: spent(from.bench, to.bench) ?? 0,
    replicas: to.replicas.map((b, i) => spent(from.replicas[i], b)),
    postgres: spent(from.postgres, to.postgres),
    machine: spent(from.machine, to.machine),
  };
}
