// `irbot --help` and `--version` load no command's module: what they show of the commands comes from commands.ts,
// which must say what the modules themselves define.
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../src/cli/commands.js';
import { realDeps } from '../../../src/cli/deps.js';
import { buildProgram } from '../../../src/cli/main.js';

describe('the commands as the top-level help lists them', () => {
  it('match each module’s own term and description (else: copy them into src/cli/commands.ts)', async () => {
    const full = await buildProgram(realDeps(), ['node', 'irbot', 'help']);
    const help = full.createHelp();
    const defined = full.commands.map((c) => ({
      name: c.name(),
      term: help.subcommandTerm(c),
      description: c.description(),
    }));
    expect(COMMANDS.map(({ name, term, description }) => ({ name, term, description }))).toEqual(defined);
  });

  it('make the same top-level help as the modules do', async () => {
    const full = await buildProgram(realDeps(), ['node', 'irbot', 'help']);
    const light = await buildProgram(realDeps(), ['node', 'irbot', '--help']);
    expect(light.helpInformation()).toBe(full.helpInformation());
  });
});
