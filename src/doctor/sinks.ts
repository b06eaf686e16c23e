// Doctor's check of each `[[sinks]]` entry: its secret is set, and the receiver answers a signed `ping`, an event
// a receiver verifies like any other and then ignores (it is no alert's event).
import { sinkName } from '../config/sinks.js';
import type { SinkConfig } from '../config/types.js';
import { sinkTarget } from '../deliver/events.js';
import type { Delivery } from '../deliver/port.js';
import { createSinkTransport } from '../deliver/sink.js';
import { type CheckResult, fail, pass } from './report.js';

export async function checkSink(
  sinks: readonly SinkConfig[],
  index: number,
  vars: Record<string, string | undefined>,
  clock: () => Date = () => new Date(),
): Promise<CheckResult> {
  const sink = sinks[index] as SinkConfig;
  const name = sinkName(sinks, index);
  const secret = vars[sink.secretEnv];
  if (!secret?.trim()) {
    return fail(
      name,
      `${sink.secretEnv} is not set`,
      `set ${sink.secretEnv} to the sink's signing secret in the environment or in .env`,
    );
  }
  const at = clock().toISOString();
  // No alert's event: the body says `ping`, which a receiver verifies, answers and records nothing for.
  const ping = {
    key: `ping:${at}`,
    target: sinkTarget(sink),
    body: JSON.stringify({ event: 'ping', at }),
    at,
    attempts: 0,
  };
  const result = await createSinkTransport({ url: sink.url, secret, clock }).send(ping as Delivery);
  if (result.ok) return pass(name, `answered a signed ping with HTTP ${result.status}`);
  if (result.reason === 'HTTP 401' || result.reason === 'HTTP 403') {
    return fail(
      name,
      `refused a signed ping (${result.reason})`,
      `make ${sink.secretEnv} hold the secret the receiver verifies with, and its clock right (5 minutes' leeway)`,
    );
  }
  if (!result.retry)
    return fail(name, `answered a signed ping with ${result.reason}`, "check the sink's url in config.toml");
  return fail(
    name,
    `not reachable: ${result.reason}`,
    "check that the receiver runs and the sink's url in config.toml; irbot listen retries deliveries for 24 hours",
  );
}
