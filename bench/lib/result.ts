// What a scenario hands back: headline numbers checked against their targets, and every raw number behind them.
import { arch, cpus, release, totalmem, type } from 'node:os';

export interface Check {
  metric: string;
  value: number | null;
  unit: string;
  /** As shown, e.g. `< 5 ms`. */
  target: string;
  /** null: not measured (the scenario failed or did not get that far). */
  pass: boolean | null;
}

export interface ScenarioResult {
  name: string;
  title: string;
  seconds: number;
  peakRssMb: number;
  checks: Check[];
  /** Facts a reader needs to read the numbers right. */
  notes: string[];
  raw: Record<string, unknown>;
  error?: string;
}

export function check(metric: string, value: number | null, unit: string, limit: number, op: '<' | '<='): Check {
  const measured = value === null || Number.isNaN(value) ? null : value;
  const pass = measured === null ? null : op === '<' ? measured < limit : measured <= limit;
  return { metric, value: measured, unit, target: `${op === '<' ? '<' : '≤'} ${withUnit(limit, unit)}`, pass };
}

/** A number with its unit, as the tables show it: `12.3 ms`, `1.58×`, `0`. */
export function withUnit(value: number | null, unit: string): string {
  if (value === null || Number.isNaN(value)) return '–';
  const digits = unit === '×' ? 2 : 1;
  const text = Number.isInteger(value) ? String(value) : value.toFixed(digits);
  if (unit === '×') return `${text}×`;
  return unit ? `${text} ${unit}` : text;
}

export function verdict(c: Check): string {
  return c.pass === null ? 'n/a' : c.pass ? 'PASS' : 'MISS';
}

export interface Machine {
  os: string;
  arch: string;
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    os: `${type()} ${release()}`,
    arch: arch(),
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}
