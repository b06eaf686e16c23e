// What `send-alert --dry-run` shows: each alert as it would be posted, without an id or any call to Slack.
import type { AlertInput } from '../config/alerts.js';
import { alertHeadline, detailsText } from '../slack/blocks.js';
import { neutralise, neutraliseLine } from '../untrusted-text.js';

export interface Preview {
  template: string;
  name: string;
  description: string;
  user_id: string;
  properties: Record<string, string>;
  auto_chat: boolean;
  dedupe_key: string | null;
  /** The alert's own choices, null where it leaves them to config.toml. */
  step_up: boolean | null;
  severity: string | null;
  urgent: boolean | null;
  /** The feed channel message's text. */
  headline: string;
  /** The first reply in its thread; the alert's id is given when it is posted, shown as `<template>-…`. */
  details: string;
}

export function previewAlert(alert: AlertInput): Preview {
  return {
    template: alert.id,
    name: alert.name,
    description: alert.description,
    user_id: alert.userId,
    properties: alert.properties,
    auto_chat: alert.autoChat === true,
    dedupe_key: alert.dedupeKey ?? null,
    step_up: alert.stepUp ?? null,
    severity: alert.severity ?? null,
    urgent: alert.urgent ?? null,
    headline: alertHeadline(alert),
    details: detailsText({ ...alert, id: `${alert.id}-…` }),
  };
}

/**
 * Plain lines for a terminal: a header per alert, then the two texts indented, as Slack would get them (its markup
 * shown, not rendered); the alert's fields may come from anyone, so their control and bidi characters are shown.
 */
export function renderPreviews(previews: Preview[]): string {
  const indent = (text: string) => neutralise(text).replace(/^/gm, '    ');
  const blocks = previews.map((p, index) => {
    const extras = [
      p.auto_chat ? 'auto_chat: starts the chat at once' : '',
      p.dedupe_key ? `dedupe_key ${neutraliseLine(p.dedupe_key)}` : '',
      p.step_up === null ? '' : `step_up ${p.step_up ? 'on' : 'off'}`,
      p.severity ? `severity ${p.severity}` : '',
      p.urgent ? 'urgent: skips the wait for working hours' : '',
    ]
      .filter(Boolean)
      .join(', ');
    return [
      `alert ${index + 1} of ${previews.length}: ${neutraliseLine(p.template)}${extras ? ` (${extras})` : ''}`,
      '  headline:',
      indent(p.headline),
      '  in its thread:',
      indent(p.details),
    ].join('\n');
  });
  const count = `${previews.length} alert${previews.length === 1 ? '' : 's'}`;
  return `${blocks.join('\n\n')}\n\ndry run: ${count} valid, nothing posted\n`;
}
