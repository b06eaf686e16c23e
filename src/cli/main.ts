// Builds the program and turns errors into exit codes: the only place that does.
import { readFileSync } from 'node:fs';
import type * as Commander from 'commander';
import type { Command as CommandType } from 'commander';
import { requireCjs } from '../cjs.js';
import { ConfigError } from '../config/errors.js';
import { oneLine } from '../log.js';
import { neutraliseLine } from '../untrusted-text.js';
import { type Deps, realDeps } from './deps.js';
import { ExitWith } from './exit.js';

const { Command, CommanderError } = requireCjs('commander') as typeof Commander;

type AddCommand = (program: CommandType, deps: Deps) => void;

/**
 * Each command's module, in the order `irbot --help` lists them. Only the command being run is loaded: the
 * others' dependencies (terminal layout, prompts, the Slack SDK) would cost every start of irbot their load time.
 */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<AddCommand>]> = [
  ['send-alert', async () => (await import('./send-alert.js')).addSendAlertCommand],
  ['chat', async () => (await import('./chat.js')).addChatCommand],
  ['listen', async () => (await import('./listen.js')).addListenCommand],
  ['status', async () => (await import('./status.js')).addStatusCommand],
  ['snooze', async () => (await import('./snooze.js')).addSnoozeCommand],
  ['report', async () => (await import('./report.js')).addReportCommand],
  ['sandbox', async () => (await import('./sandbox.js')).addSandboxCommand],
  ['init', async () => (await import('./init.js')).addInitCommand],
  ['doctor', async () => (await import('./doctor.js')).addDoctorCommand],
  ['transcript', async () => (await import('./transcript.js')).addTranscriptCommand],
  ['store', async () => (await import('./store.js')).addStoreCommand],
];

/** The program with the command `argv` names, or with every command (for help, a typo, or no command at all). */
export async function buildProgram(deps: Deps, argv: string[] = []): Promise<CommandType> {
  const program = new Command('irbot')
    .description('Ask the person named in a security alert, kindly, whether it was them: in Slack, from the terminal.')
    .version(packageVersion(), '-V, --version', 'print the version of irbot')
    .exitOverride() // before adding subcommands, so they inherit it
    .configureOutput({
      writeOut: (text) => deps.stdout.write(text),
      writeErr: (text) => deps.stderr.write(text),
    })
    .showHelpAfterError('(irbot --help lists the commands)');
  const named = COMMANDS.filter(([name]) => name === argv[2]);
  for (const [, load] of named.length > 0 ? named : COMMANDS) (await load())(program, deps);
  return program;
}

/** The version in package.json, which ships beside dist/ (and src/ under the tests). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[], deps: Deps = realDeps()): Promise<number> {
  const program = await buildProgram(deps, argv);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2; // commander already printed it
    if (err instanceof ExitWith) return err.code; // the command already printed why
    deps.stderr.write(`irbot: ${neutraliseLine(oneLine(err))}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
}
