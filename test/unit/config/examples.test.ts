// Tests that the shipped config.toml, alerts.toml and Slack app manifests parse and say what irbot needs.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseAlerts } from '../../../src/config/alerts.js';
import { CONFIG_KEYS, parseConfig } from '../../../src/config/config.js';
import { STEP_UP_KEYS } from '../../../src/config/step-up.js';
import { EVENTS_PATH } from '../../../src/slack/http-events.js';
import { MANIFEST_SCOPES } from '../../../src/slack/scopes.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (name: string) => readFile(path.join(root, name), 'utf8');

describe('shipped examples', () => {
  it('config.toml parses, points at the sandbox feed and mentions every key', async () => {
    const text = await read('config.toml');
    const config = parseConfig(text, path.join(root, 'config.toml'));
    expect(config.feedChannelId).toBe('C0FEED');
    expect(config.alertsPath).toBe(path.join(root, 'alerts.toml'));
    // A key, a table (`[escalation]`) or a table array (`[[sinks]]`).
    for (const key of Object.keys(CONFIG_KEYS))
      expect(text).toMatch(new RegExp(`^(# )?(${key} = |\\[${key}\\]$|\\[\\[${key}\\]\\]$)`, 'm'));
    expect(text).toMatch(/^# \[step_up\]$/m);
    for (const key of Object.keys(STEP_UP_KEYS)) expect(text).toMatch(new RegExp(`^# ${key} = `, 'm'));
    // The commented block, uncommented, is a valid step-up.
    const block = text
      .slice(text.indexOf('# [step_up]'))
      .replace(/^# ?/gm, '')
      .replace(/ +#.*$/gm, '');
    expect(parseConfig(`feed_channel_id = "C0FEED"\n${block}`, path.join(root, 'config.toml')).stepUp.provider).toBe(
      'duo',
    );
  });

  it('alerts.toml parses into the seed’s two alerts', async () => {
    const alerts = parseAlerts(await read('alerts.toml'), path.join(root, 'alerts.toml'));
    expect(alerts.map((alert) => alert.id)).toEqual(['pivot', 'privesc']);
    expect(alerts[0]?.properties).toEqual({
      source_host: 'source.machine.org',
      destination_host: 'destination.machine.org',
    });
    expect(alerts[1]?.properties).toEqual({ previous_role: 'reader', new_role: 'admin' });
  });

  it('slack-app-manifest.yml asks for the scopes, the DM event and Socket Mode', async () => {
    const text = await read('slack-app-manifest.yml');
    const manifest = parseYaml(text) as { oauth_config: { scopes: { bot: string[] } } };
    // Exactly the same list, in the same order: doctor checks what the manifest asks for, nothing more or less.
    expect(manifest.oauth_config.scopes.bot).toEqual([...MANIFEST_SCOPES]);
    expect(manifest.oauth_config.scopes.bot).not.toContain('im:read');
    expect(text).toMatch(/^ +- message\.im$/m);
    expect(text).toContain('socket_mode_enabled: true');
    expect(text).toContain('messages_tab_read_only_enabled: false');
  });

  it('slack-app-manifest-http.yml is the same app with Socket Mode off and both Request URLs on /slack/events', async () => {
    type Manifest = {
      settings: {
        socket_mode_enabled: boolean;
        event_subscriptions: { request_url?: string };
        interactivity: { request_url?: string };
      };
    };
    const socket = parseYaml(await read('slack-app-manifest.yml')) as Manifest;
    const http = parseYaml(await read('slack-app-manifest-http.yml')) as Manifest;
    expect(http.settings.socket_mode_enabled).toBe(false);
    expect(http.settings.event_subscriptions.request_url).toBe(`https://irbot.example.com${EVENTS_PATH}`);
    expect(http.settings.interactivity.request_url).toBe(`https://irbot.example.com${EVENTS_PATH}`);
    // Everything else, the scopes and the DM event included, as in the Socket Mode manifest.
    const { request_url: _events, ...events } = http.settings.event_subscriptions;
    const { request_url: _clicks, ...interactivity } = http.settings.interactivity;
    expect({
      ...http,
      settings: { ...http.settings, socket_mode_enabled: true, event_subscriptions: events, interactivity },
    }).toEqual(socket);
  });

  it('deploy/compose.yml runs PostgreSQL and three replicas of irbot listen on it, in Socket Mode or over HTTP', async () => {
    type Service = { command?: string[]; environment?: Record<string, string>; deploy?: { replicas?: number } };
    const compose = parseYaml(await read('deploy/compose.yml'), { merge: true }) as {
      services: Record<string, Service & { profiles?: string[]; configs?: unknown[] }>;
      configs: { nginx: { content: string } };
    };
    const { postgres, irbot, 'irbot-http': http, nginx } = compose.services;
    expect(postgres).toBeDefined();
    for (const [replica, command, profile] of [
      [irbot, ['listen'], 'socket'],
      [http, ['listen', '--http', '0.0.0.0:3000'], 'http'],
    ] as const) {
      expect(replica?.command).toEqual(command);
      expect(replica?.deploy?.replicas).toBe(3);
      expect(replica?.profiles).toEqual([profile]);
      expect(replica?.environment?.DATABASE_URL).toMatch(
        /^postgres:\/\/irbot:\$\{POSTGRES_PASSWORD[^}]*\}@postgres:5432\/irbot$/,
      );
    }
    // nginx sends Slack's requests (and /healthz) to the HTTP replicas' port.
    expect(nginx?.profiles).toEqual(['http']);
    expect(compose.configs.nginx.content).toContain(`location /slack/ {`);
    expect(compose.configs.nginx.content).toContain('proxy_pass http://irbot-http:3000;');
    expect(EVENTS_PATH.startsWith('/slack/')).toBe(true);
  });
});
