// Order statistics over samples, and the tiny helpers every scenario uses to time things.
import { readFileSync } from 'node:fs';

/** The q-quantile (0..1) by the nearest-rank method; NaN for no samples. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

export const median = (samples: readonly number[]): number => quantile(samples, 0.5);

export function summary(samples: readonly number[]): { n: number; p50: number; p90: number; p99: number; max: number } {
  return {
    n: samples.length,
    p50: round(quantile(samples, 0.5)),
    p90: round(quantile(samples, 0.9)),
    p99: round(quantile(samples, 0.99)),
    max: round(quantile(samples, 1)),
  };
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Peak resident set size of this process so far, in MB, sampled often enough to see short peaks. */
export function rssSampler(everyMs = 200): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
      return round(peak / 2 ** 20, 1);
    },
  };
}

/** CPU time in clock ticks: busy, and in all (busy and idle). */
export interface MachineTicks {
  busy: number;
  all: number;
}

/** The whole machine's CPU time so far as Linux counts it (/proc/stat, every core); null elsewhere. */
export function machineTicks(): MachineTicks | null {
  try {
    const [, ...fields] = (readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal (guest time is inside user already)
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number);
    const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
    return { busy, all: busy + (idle ?? 0) + (iowait ?? 0) };
  } catch {
    return null;
  }
}

/** How busy the machine's cores were between two readings, in percent of all of them; null when unknown. */
export function busyPercent(from: MachineTicks | null, to: MachineTicks | null): number | null {
  if (!from || !to || to.all <= from.all) return null;
  return Math.round((100 * (to.busy - from.busy)) / (to.all - from.all));
}
