// Builds the program and turns errors into exit codes: the only place that does.
import { readFileSync } from 'node:fs';
import type * as Commander from 'commander';
import type { Command as CommandType } from 'commander';
import { requireCjs } from '../cjs.js';
import { ConfigError } from '../config/errors.js';
import { oneLine } from '../log.js';
import { neutraliseLine } from '../untrusted-text.js';
import { COMMANDS } from './commands.js';
import { type Deps, realDeps } from './deps.js';
import { ExitWith } from './exit.js';

const { Command, CommanderError } = requireCjs('commander') as typeof Commander;

/** What the top-level help and the version need: no command's module (see commands.ts). */
const WITHOUT_COMMANDS = new Set([undefined, '-h', '--help', '-V', '--version']);

/**
 * The program with the command `argv` names, or with every command (for `help`, a typo), or, for the top-level help
 * and the version, with their names and descriptions only.
 */
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
  if (WITHOUT_COMMANDS.has(argv[2])) {
    // Listed by name, term and description only: none of them runs from here.
    const terms = new Map(COMMANDS.map((c) => [c.name, c.term]));
    for (const { name, description } of COMMANDS) program.command(name).description(description);
    const help = program.createHelp();
    program.configureHelp({ subcommandTerm: (cmd) => terms.get(cmd.name()) ?? help.subcommandTerm(cmd) });
    return program;
  }
  const named = COMMANDS.filter(({ name }) => name === argv[2]);
  for (const { load } of named.length > 0 ? named : COMMANDS) (await load())(program, deps);
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
