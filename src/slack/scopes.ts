// The bot token scopes irbot needs, as slack-app-manifest.yml asks for them: checked by doctor, granted by the sandbox.
export const REQUIRED_SCOPES = [
  'users:read',
  'channels:history',
  'chat:write',
  'groups:history',
  'im:history',
  'im:write',
  'im:read',
] as const;
