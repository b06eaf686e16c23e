// The Socket Mode frames the local Slack sends (hello, disconnect, envelopes) and the payloads inside them.

import { randomUUID } from 'node:crypto';
import type { Channel, FakeUser, Identity, StoredMessage } from './local-slack-types.js';

export type Envelope = Record<string, unknown>;
export type EnvelopeType = 'events_api' | 'interactive' | 'slash_commands';

// https://docs.slack.dev/apis/events-api/using-socket-mode
export function helloFrame(identity: Identity, numConnections: number): Envelope {
  return {
    type: 'hello',
    num_connections: numConnections,
    debug_info: { host: 'local', approximate_connection_time: 18060 },
    connection_info: { app_id: identity.appId },
  };
}

export function disconnectFrame(reason: string): Envelope {
  return { type: 'disconnect', reason, debug_info: { host: 'local' } };
}

export function envelopeOf(type: EnvelopeType, payload: Record<string, unknown>): Envelope {
  return {
    envelope_id: randomUUID(),
    type,
    payload,
    accepts_response_payload: false,
    retry_attempt: 0,
    retry_reason: '',
  };
}

/** Slack's re-delivery of an unacknowledged envelope: same payload (and event_id), new envelope id. */
export function retryOf(envelope: Envelope, reason = 'timeout'): Envelope {
  const attempt = typeof envelope.retry_attempt === 'number' ? envelope.retry_attempt : 0;
  return { ...envelope, envelope_id: randomUUID(), retry_attempt: attempt + 1, retry_reason: reason };
}

export function eventCallback(
  identity: Identity,
  event: Record<string, unknown>,
  eventId: string,
  eventTime: number,
): Record<string, unknown> {
  return {
    token: 'local-verification-token',
    team_id: identity.teamId,
    context_team_id: identity.teamId,
    api_app_id: identity.appId,
    event,
    type: 'event_callback',
    event_id: eventId,
    event_time: eventTime,
    authorizations: [
      {
        enterprise_id: null,
        team_id: identity.teamId,
        user_id: identity.botUserId,
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
  };
}

export interface ButtonClick {
  user: FakeUser;
  channel: Channel;
  message: StoredMessage;
  actionId: string;
  value: string | undefined;
  actionTs: string;
  responseUrl: string;
}

// https://docs.slack.dev/reference/interaction-payloads/block_actions-payload
export function blockActions(identity: Identity, click: ButtonClick): Record<string, unknown> {
  const button = findButton(click.message.blocks ?? [], click.actionId);
  const value = click.value ?? (typeof button?.element.value === 'string' ? button.element.value : undefined);
  return {
    type: 'block_actions',
    user: { id: click.user.id, username: click.user.name, name: click.user.name, team_id: identity.teamId },
    api_app_id: identity.appId,
    token: 'local-verification-token',
    container: {
      type: 'message',
      message_ts: click.message.ts,
      channel_id: click.channel.id,
      is_ephemeral: false,
    },
    trigger_id: `${click.actionTs.replace('.', '')}.${identity.teamId}.${randomUUID().replaceAll('-', '')}`,
    team: { id: identity.teamId, domain: 'local-sandbox' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: click.channel.id, name: click.channel.isIm ? 'directmessage' : click.channel.name },
    message: structuredClone(click.message),
    state: { values: {} },
    response_url: click.responseUrl,
    actions: [
      {
        action_id: click.actionId,
        block_id: button?.blockId ?? 'local-block',
        ...(button !== undefined && { text: button.element.text }),
        ...(value !== undefined && { value }),
        type: 'button',
        action_ts: click.actionTs,
      },
    ],
  };
}

/** The button with `actionId` in a message's blocks, and the id of the block holding it. */
export function findButton(
  blocks: Record<string, unknown>[],
  actionId: string,
): { blockId: string; element: Record<string, unknown> } | undefined {
  for (const block of blocks) {
    const elements = Array.isArray(block.elements) ? block.elements : [block.accessory];
    for (const element of elements) {
      if (typeof element === 'object' && element !== null && element.action_id === actionId) {
        return { blockId: typeof block.block_id === 'string' ? block.block_id : 'local-block', element };
      }
    }
  }
  return undefined;
}
