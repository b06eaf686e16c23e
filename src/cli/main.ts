// Builds the program and turns errors into exit codes: the only place that does.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/errors.js';
import { oneLine } from '../log.js';
import { neutraliseLine } from '../untrusted-text.js';
import { addChatCommand } from './chat.js';
import { type Deps, realDeps } from './deps.js';
import { addDoctorCommand } from './doctor.js';
import { ExitWith } from './exit.js';
import { addInitCommand } from './init.js';
import { addListenCommand } from './listen.js';
import { addSandboxCommand } from './sandbox.js';
import { addSendAlertCommand } from './send-alert.js';
import { addStatusCommand } from './status.js';
import { addTranscriptCommand } from './transcript.js';

export function buildProgram(deps: Deps): Command {
  const program = new Command('irbot')
    .description('Ask the person named in a security alert, kindly, whether it was them: in Slack, from the terminal.')
    .version(packageVersion(), '-V, --version', 'print the version of irbot')
    .exitOverride() // before adding subcommands, so they inherit it
    .configureOutput({
      writeOut: (text) => deps.stdout.write(text),
      writeErr: (text) => deps.stderr.write(text),
    })
    .showHelpAfterError('(irbot --help lists the commands)');
  addSendAlertCommand(program, deps);
  addChatCommand(program, deps);
  addListenCommand(program, deps);
  addStatusCommand(program, deps);
  addSandboxCommand(program, deps);
  addInitCommand(program, deps);
  addDoctorCommand(program, deps);
  addTranscriptCommand(program, deps);
  return program;
}

/** The version in package.json, which ships beside dist/ (and src/ under the tests). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[], deps: Deps = realDeps()): Promise<number> {
  const program = buildProgram(deps);
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
