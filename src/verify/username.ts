// A person's username at the verifier, from their Slack profile as `username_from` says.
import type { UsernameFrom } from '../config/types.js';

/**
 * `email`: their Slack email; `email_local_part`: its part before the @; `slack_id`: their member ID. Undefined when
 * the profile has no email (the bot lacks users:read.email, or the account has none): then no push can be sent.
 */
export function verifierUsername(
  from: UsernameFrom,
  person: { userId: string; email?: string | undefined },
): string | undefined {
  if (from === 'slack_id') return person.userId;
  const email = person.email?.trim();
  if (!email) return undefined;
  if (from === 'email') return email;
  const at = email.lastIndexOf('@');
  const local = at < 0 ? email : email.slice(0, at);
  return local === '' ? undefined : local;
}
