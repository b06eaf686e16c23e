// The one error type a user fixes in env, config.toml, alerts.toml or the arguments: exit 2, one line.

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** What is wrong with one value of config.toml; the parser adds the file and the key. */
export class Invalid extends Error {}
