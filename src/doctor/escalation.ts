// The doctor's escalation check: the PagerDuty routing key's shape and the mention, without sending a page (a
// test event would open an incident and wake someone).
import { routingKeyProblem } from '../config/env.js';
import type { Config, Env } from '../config/types.js';
import { DEFAULT_PAGERDUTY_API_URL } from '../deliver/pagerduty.js';
import { type CheckResult, fail, pass } from './report.js';

export const ESCALATION_CHECK = 'escalation';

/** Whether the run has anything of escalation to check: a routing key, or a mention in config.toml. */
export function hasEscalation(env: Env | undefined, config: Config | undefined): boolean {
  return env?.pagerdutyRoutingKey !== undefined || config?.escalation.mention !== undefined;
}

export function checkEscalation(env: Env, config: Config | undefined): CheckResult {
  const problem = routingKeyProblem(env);
  if (problem) {
    return fail(
      ESCALATION_CHECK,
      problem,
      'copy the Integration Key of an Events API v2 integration into PAGERDUTY_ROUTING_KEY, or unset it to page nobody',
    );
  }
  const on = config ? config.escalation.on : [];
  const where = [
    ...(config?.escalation.mention ? [`${config.escalation.mention} in the thread`] : []),
    ...(env.pagerdutyRoutingKey
      ? [`PagerDuty at ${new URL(env.pagerdutyApiUrl ?? DEFAULT_PAGERDUTY_API_URL).origin} (routing key well-formed)`]
      : []),
  ];
  const outcomes = on.length > 0 ? on.join(', ') : 'no outcome ([escalation] on is empty)';
  return pass(ESCALATION_CHECK, `${outcomes} → ${where.join(' and ')}`);
}
