// Doctor's sink check against the local sink receiver: a signed ping it answers, a wrong secret, a receiver down,
// a wrong URL, a missing variable; each failure with its fix, never the secret.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SinkConfig } from '../../../src/config/types.js';
import { runDoctor } from '../../../src/doctor/checks.js';
import { checkSink } from '../../../src/doctor/sinks.js';
import { LocalSink } from '../../../src/sandbox/local-sink.js';

const SECRET = 'whsec_doctor';
let sink: LocalSink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

async function check(vars: Record<string, string>, path = '') {
  sink ??= await LocalSink.start({ secret: SECRET });
  const sinks: SinkConfig[] = [{ url: `${sink.url}${path}`, secretEnv: 'SINK_SECRET', events: ['ended'] }];
  const result = await checkSink(sinks, 0, vars);
  expect(JSON.stringify(result)).not.toContain(SECRET);
  return result;
}

describe('doctor: sinks', () => {
  it('passes when the receiver verifies a signed ping, which is no alert event', async () => {
    const result = await check({ SINK_SECRET: SECRET });
    expect(result).toMatchObject({ ok: true, detail: 'answered a signed ping with HTTP 200' });
    expect(result.name).toMatch(/^sink #1 \(http:\/\/127\.0\.0\.1:\d+\)$/);
    expect(sink?.pings).toHaveLength(1);
    expect(sink?.delivered).toEqual([]);
  });

  it('names the variable when the secret is missing or does not match', async () => {
    expect(await check({})).toMatchObject({
      ok: false,
      detail: 'SINK_SECRET is not set',
      fix: expect.stringContaining('set SINK_SECRET'),
    });
    expect(await check({ SINK_SECRET: 'not-the-secret' })).toMatchObject({
      ok: false,
      detail: 'refused a signed ping (HTTP 401)',
      fix: expect.stringContaining('make SINK_SECRET hold the secret the receiver verifies with'),
    });
  });

  it('fails with the fix when the receiver is down or refuses', async () => {
    sink = await LocalSink.start({ secret: SECRET });
    sink.setMode({ kind: 'unavailable' });
    expect(await check({ SINK_SECRET: SECRET })).toMatchObject({
      ok: false,
      detail: 'not reachable: HTTP 503',
      fix: expect.stringContaining('check that the receiver runs'),
    });
    sink.setMode({ kind: 'status', status: 404 });
    expect(await check({ SINK_SECRET: SECRET })).toMatchObject({
      ok: false,
      detail: 'answered a signed ping with HTTP 404',
      fix: "check the sink's url in config.toml",
    });
  });

  it('is one of the checks irbot doctor runs, one per sink in config.toml', async () => {
    sink = await LocalSink.start({ secret: SECRET });
    const dir = await mkdtemp(join(tmpdir(), 'irbot-doctor-'));
    const sinkTable = `[[sinks]]\nurl = "${sink.url}"\nsecret_env = "SINK_SECRET"\n`;
    await writeFile(
      join(dir, 'config.toml'),
      `feed_channel_id = "C0FEED"\n${sinkTable}${sinkTable.replace('SINK_SECRET', 'OTHER_SECRET')}`,
    );
    const report = await runDoctor({ cwd: dir, processEnv: { SINK_SECRET: SECRET } });
    const sinks = report.checks.filter((check) => check.name.startsWith('sink #'));
    expect(sinks.map((check) => [check.name.slice(0, 7), check.ok, check.detail])).toEqual([
      ['sink #1', true, 'answered a signed ping with HTTP 200'],
      ['sink #2', false, 'OTHER_SECRET is not set'],
    ]);
  });
});
