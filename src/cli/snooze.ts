// `irbot snooze add | list | rm`: what the team already knows. Snoozes live in the store; no network is needed.
import type { Command } from 'commander';
import { isSlackUserId } from '../config/config.js';
import { ConfigError, quote } from '../config/errors.js';
import { addSnooze, DAY_MS, parseDuration, removeSnooze, snoozeState, snoozesOf, untilText } from '../snoozes.js';
import type { Snooze, SnoozeActor } from '../store/port.js';
import { neutraliseLine, safeJson } from '../untrusted-text.js';
import { commandDescription } from './commands.js';
import type { Deps } from './deps.js';
import { loadSetup, openStore } from './setup.js';
import { displayWidth } from './width.js';

/** As alert ids are (src/config/alerts.ts): the template names the kind of alert. */
const TEMPLATE_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_REASON = 500;

interface AddOptions {
  template?: string;
  user?: string;
  match: string[];
  for?: string;
  reason?: string;
  config?: string;
}

/** One snooze as `list --json` prints it. */
export interface SnoozeRow {
  id: string;
  state: 'active' | 'expired' | 'removed';
  template: string;
  user: string | null;
  match: Record<string, string>;
  until: string;
  reason: string;
  created_by: SnoozeActor;
  created_at: string;
  alert_id: string | null;
  removed_at: string | null;
  removed_by: SnoozeActor | null;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function addSnoozeCommand(program: Command, deps: Deps): void {
  const snooze = program.command('snooze').description(commandDescription('snooze'));
  // `irbot snooze` alone: one line naming its subcommands, as `irbot store` does, not the whole help.
  snooze.action(() => {
    throw new ConfigError('irbot snooze needs a subcommand: add, list or rm (irbot snooze --help shows them)');
  });
  const configOption = ['--config <path>', 'config.toml to use (default: $IRBOT_CONFIG or ./config.toml)'] as const;

  snooze
    .command('add')
    .description('Suppress alerts of a template (for one person, with some properties) for a while; prints its id')
    .option('--template <id>', 'the alert template (the `id` of alerts.toml or of the webhook JSON)')
    .option('--user <id>', 'only alerts about this Slack user (U…)')
    .option(
      '--match <key=value>',
      'only alerts whose property key has this value (repeatable: all must match)',
      collect,
      [],
    )
    .option('--for <duration>', 'how long: 30m, 4h, 3d (at most max_snooze_days)')
    .option('--reason <text>', 'why: shown in `snooze list` and kept for the audit')
    .option(...configOption)
    .action(async (opts: AddOptions) => {
      const input = await checkAdd(opts, deps);
      const store = openStore(input.config);
      const made = await store.transact((data) =>
        structuredClone(addSnooze(data, { ...input.snooze, by: terminal(deps) }, deps.clock(), deps.newId)),
      );
      deps.stdout.write(`${made.id}\n`);
    });

  snooze
    .command('list')
    .description('Show the active snoozes (--all: removed and expired ones too)')
    .option('--all', 'also removed and expired snoozes')
    .option('--json', 'print JSON on stdout and nothing else')
    .option(...configOption)
    .action(async (opts: { all?: boolean; json?: boolean; config?: string }) => {
      const { config } = await loadSetup(deps, opts.config, []);
      const now = deps.clock();
      const rows = snoozesOf(await openStore(config).read())
        .map((s) => snoozeRow(s, now))
        .filter((row) => opts.all === true || row.state === 'active');
      deps.stdout.write(opts.json ? `${safeJson(rows)}\n` : renderSnoozes(rows, opts.all === true));
    });

  snooze
    .command('rm')
    .description('Remove a snooze now (it stays in `snooze list --all`)')
    .argument('<snoozeId>', 'the id `snooze add` printed, e.g. sz-tt2kb10c4e')
    .option(...configOption)
    .action(async (id: string, opts: { config?: string }) => {
      const { config } = await loadSetup(deps, opts.config, []);
      const store = openStore(config);
      // Looked up first: a refused command (a mistyped id, another folder) must not write, nor create a store.
      const known = Object.hasOwn((await store.read()).snoozes ?? {}, id);
      const result = known
        ? await store.transact((data) => removeSnooze(data, id, terminal(deps), deps.clock()))
        : ({ kind: 'unknown' } as const);
      if (result.kind === 'unknown') {
        throw new ConfigError(`no snooze ${quote(id)}: irbot snooze list --all shows every snooze id`);
      }
      if (result.kind === 'already') {
        throw new ConfigError(`snooze ${id} was removed already, at ${result.snooze.removedAt}; nothing to do`);
      }
      deps.stdout.write(`${id} removed\n`);
    });
}

function terminal(deps: Deps): SnoozeActor {
  return { id: deps.osUser(), via: 'terminal' };
}

/** Checks `snooze add`'s options, each problem one line with its fix; reads config.toml for max_snooze_days. */
async function checkAdd(opts: AddOptions, deps: Deps) {
  const { template, user, reason } = opts;
  if (template === undefined || !TEMPLATE_ID.test(template)) {
    throw new ConfigError(
      template === undefined
        ? '--template is required: the id of the alert template to snooze, e.g. --template pivot'
        : `--template ${quote(template)} is not an alert id (up to 64 letters, digits, '.', '_', ':' or '-')`,
    );
  }
  if (user !== undefined && !isSlackUserId(user)) {
    throw new ConfigError(`--user ${quote(user)} is not a Slack user ID (U… or W…, e.g. U0123456789)`);
  }
  const pairs: [string, string][] = [];
  for (const pair of opts.match) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new ConfigError(`--match ${quote(pair)} must be key=value, e.g. --match source_host=build-7`);
    pairs.push([pair.slice(0, at), pair.slice(at + 1)]);
  }
  // Own properties whatever their names: an assignment to `__proto__` would set no condition, and match everything.
  const match: Record<string, string> = Object.fromEntries(pairs);
  if (opts.for === undefined)
    throw new ConfigError('--for is required: how long, e.g. --for 4h, --for 3d or --for 30m');
  const forMs = parseDuration(opts.for);
  if (forMs === null) {
    throw new ConfigError(`--for ${quote(opts.for)} is not a duration: use minutes, hours or days, e.g. 30m, 4h, 3d`);
  }
  if (reason === undefined || reason.trim() === '') {
    throw new ConfigError('--reason is required: say why, e.g. --reason "nightly backup job on build-7"');
  }
  if (reason.length > MAX_REASON) {
    throw new ConfigError(`--reason is ${reason.length} characters long: keep it to ${MAX_REASON}`);
  }
  const { config } = await loadSetup(deps, opts.config, []);
  if (forMs > config.maxSnoozeDays * DAY_MS) {
    throw new ConfigError(
      `--for ${opts.for} is longer than max_snooze_days (${config.maxSnoozeDays}): snooze for less, or raise max_snooze_days in ${config.file}`,
    );
  }
  return { config, snooze: { template, user, match, forMs, reason: reason.trim() } };
}

export function snoozeRow(snooze: Snooze, now: Date): SnoozeRow {
  return {
    id: snooze.id,
    state: snoozeState(snooze, now),
    template: snooze.template,
    user: snooze.user ?? null,
    match: snooze.match ?? {},
    until: snooze.until,
    reason: snooze.reason,
    created_by: snooze.createdBy,
    created_at: snooze.createdAt,
    alert_id: snooze.alertId ?? null,
    removed_at: snooze.removedAt ?? null,
    removed_by: snooze.removedBy ?? null,
  };
}

/** A table, one snooze a line; everything a person or a webhook wrote is neutralised. */
export function renderSnoozes(rows: SnoozeRow[], all: boolean): string {
  if (rows.length === 0) {
    return all ? 'No snoozes yet. Add one with: irbot snooze add\n' : 'No active snoozes. (--all shows the others.)\n';
  }
  const header = ['SNOOZE', 'STATE', 'TEMPLATE', 'USER', 'MATCH', 'UNTIL', 'BY', 'REASON'];
  const body = rows.map((r) =>
    [
      r.id,
      r.state === 'removed' && r.removed_by ? `removed by ${r.removed_by.id}` : r.state,
      r.template,
      r.user ?? 'anyone',
      Object.entries(r.match)
        .map(([key, value]) => `${key}=${value}`)
        .join(' ') || '-',
      untilText(r.until),
      r.created_by.via === 'slack' ? `@${r.created_by.id}` : r.created_by.id,
      r.reason,
    ].map(neutraliseLine),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => displayWidth(row[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell + ' '.repeat(Math.max(0, (widths[i] ?? 0) - displayWidth(cell))))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...body.map(line)].join('\n')}\n`;
}
