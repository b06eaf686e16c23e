// The one error type a user fixes in env, config.toml, alerts.toml or the arguments: exit 2, one line.

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
