// The bot token scopes irbot needs, exactly as slack-app-manifest.yml asks for them: checked by doctor, granted by
// the sandbox. Each is required by a call irbot makes (https://docs.slack.dev/reference/methods):
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
