// Picks the verifier config.toml's [step_up] asks for, with its keys from the environment: `none` or `duo`.
import { ConfigError } from '../config/errors.js';
import type { Config, Env } from '../config/types.js';
import { createDuoVerifier, type DuoVerifier } from './duo.js';
import { createNoneVerifier } from './none.js';
import type { Verifier } from './port.js';

const WHERE = 'Duo Admin Panel > Applications > your Auth API application';

/**
 * The verifier for this config: throws a ConfigError (exit 2) when provider is "duo" and a key is missing, so a
 * command fails before it starts rather than at the first "it was me".
 */
export function verifierFor(config: Config, env: Env, options: { timeoutMs?: number } = {}): Verifier {
  return config.stepUp.provider === 'duo' ? duoVerifierFor(config, env, options) : createNoneVerifier();
}

export function duoVerifierFor(config: Config, env: Env, options: { timeoutMs?: number } = {}): DuoVerifier {
  const problem = duoKeysProblem(env);
  if (problem) throw new ConfigError(problem);
  return createDuoVerifier({
    integrationKey: env.duoIntegrationKey ?? '',
    secretKey: env.duoSecretKey ?? '',
    baseUrl: duoBaseUrl(config, env),
    // Duo answers a long poll by the push's own expiry (60 s) at the latest; a shorter push_timeout_seconds should
    // not wait that long to be noticed, so a poll is given up (still waiting) 15 s after it.
    longPollMs: (Math.min(config.stepUp.pushTimeoutSeconds, 60) + 15) * 1000,
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
  });
}

/** DUO_API_URL, else `https://<api_hostname>`. */
export function duoBaseUrl(config: Config, env: Env): string {
  return env.duoApiUrl ?? `https://${config.stepUp.apiHostname ?? ''}`;
}

/** Why the Duo keys cannot be used (missing, or swapped), naming the variables and never their values. */
export function duoKeysProblem(env: Env): string | undefined {
  const missing = [
    ['DUO_INTEGRATION_KEY', env.duoIntegrationKey, 'Integration key'],
    ['DUO_SECRET_KEY', env.duoSecretKey, 'Secret key'],
  ].find(([, value]) => !value);
  if (missing) {
    return `Missing required environment variable: ${missing[0]} (step_up.provider is "duo"; set it in the environment or in .env: the ${missing[2]} under ${WHERE})`;
  }
  // Integration keys start with DI; only the prefix is ever looked at.
  if (!env.duoIntegrationKey?.startsWith('DI') && env.duoSecretKey?.startsWith('DI')) {
    return `DUO_INTEGRATION_KEY and DUO_SECRET_KEY look swapped: the integration key starts with 'DI' (${WHERE})`;
  }
  return undefined;
}
