// The bot token scopes irbot needs, exactly as slack-app-manifest.yml asks for them: checked by doctor, granted by
// the sandbox. Each is required by a call irbot makes (https://docs.slack.dev/reference/methods):
import type { StepUpConfig } from '../config/types.js';

export const REQUIRED_SCOPES = [
  // users.info: the person's display name.
  'users:read',
  // usergroups.users.list: the members of a responders user group (S…).
  'usergroups:read',
  // conversations.info (doctor): the feed channel, public or private.
  'channels:read',
  'groups:read',
  // conversations.replies (did a thread post land before a crash?) and conversations.history (doctor), public or private.
  'channels:history',
  'groups:history',
  // chat.postMessage, chat.update, chat.postEphemeral.
  'chat:write',
  // the message.im event, and conversations.history of a DM (did a DM land before a crash?).
  'im:history',
  // conversations.open: the DM with the person.
  'im:write',
] as const;

/** Needed only when step-up is on and Duo usernames come from emails. */
export const STEP_UP_SCOPES = [
  // users.info's profile.email: the person's Duo username (username_from = "email" or "email_local_part").
  'users:read.email',
] as const;

/** Every scope slack-app-manifest.yml asks for, in its order. */
export const MANIFEST_SCOPES = [...REQUIRED_SCOPES, ...STEP_UP_SCOPES] as const;

/** The scopes this configuration needs: step-up by email adds users:read.email. */
export function scopesNeeded(stepUp: StepUpConfig): readonly string[] {
  return stepUp.provider !== 'none' && stepUp.usernameFrom !== 'slack_id' ? MANIFEST_SCOPES : REQUIRED_SCOPES;
}
