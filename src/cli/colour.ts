// Colour for a stream, apart from render.ts (and its text-width libraries), so a command that only logs loads chalk
// alone.
import { Chalk, type ChalkInstance } from 'chalk';

/** Colour for a stream: never with NO_COLOR, otherwise only on a terminal (FORCE_COLOR overrides). */
export function chalkFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): ChalkInstance {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return new Chalk({ level: 0 });
  if (env.FORCE_COLOR !== undefined) return new Chalk({ level: forcedLevel(env.FORCE_COLOR) });
  return new Chalk({ level: stream.isTTY ? 2 : 0 });
}

/** FORCE_COLOR as supports-color reads it: 0 to 3, `false` off, anything else (`''`, `true`) level 1. */
function forcedLevel(value: string): 0 | 1 | 2 | 3 {
  if (value === 'false') return 0;
  const level = Number.parseInt(value, 10);
  return level === 0 || level === 2 || level === 3 ? level : 1;
}
