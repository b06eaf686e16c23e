// A command that has already said everything it had to and only needs a non-zero exit code.

export class ExitWith extends Error {
  override readonly name = 'ExitWith';

  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
