// Tests of Slack's request signing: what Slack signs is accepted; anything else, and anything old or early, is not.
import { describe, expect, it } from 'vitest';
import { checkSlackHeaders, checkSlackSignature, signSlackRequest } from '../../../src/slack/signature.js';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const NOW = new Date('2026-12-04T10:00:00Z');
const timestamp = String(NOW.getTime() / 1000);
const body = '{"type":"event_callback","event_id":"Ev01","event":{"type":"message","text":"hé"}}';

function request(overrides: { timestamp?: string | undefined; signature?: string | undefined; body?: string } = {}) {
  const at = 'timestamp' in overrides ? overrides.timestamp : timestamp;
  const text = overrides.body ?? body;
  return {
    timestamp: at,
    signature: 'signature' in overrides ? overrides.signature : signSlackRequest(SECRET, at ?? '', body),
    body: Buffer.from(text, 'utf8'),
  };
}

describe('signSlackRequest', () => {
  it("gives Slack's documented signature for its documented example", () => {
    // https://docs.slack.dev/authentication/verifying-requests-from-slack
    const example =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    expect(signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', '1531420618', example)).toBe(
      'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    );
  });
});

describe('checkSlackSignature', () => {
  it('accepts a body signed with the secret now, and up to 5 minutes either way', () => {
    expect(checkSlackSignature(SECRET, request(), NOW)).toEqual({ ok: true });
    expect(checkSlackSignature(SECRET, request(), new Date(NOW.getTime() + 300_000))).toEqual({ ok: true });
    expect(checkSlackSignature(SECRET, request(), new Date(NOW.getTime() - 300_000))).toEqual({ ok: true });
  });

  it('refuses a signature made with another secret, or not a signature at all', () => {
    const other = { ...request(), signature: signSlackRequest('another-secret', timestamp, body) };
    expect(checkSlackSignature(SECRET, other, NOW)).toEqual({ ok: false, reason: 'X-Slack-Signature does not match' });
    for (const signature of ['', 'v0=', 'v0=00', `v1=${'0'.repeat(64)}`, `${request().signature}0`]) {
      expect(checkSlackSignature(SECRET, request({ signature }), NOW).ok, signature).toBe(false);
    }
  });

  it('refuses a tampered body: one character changed, or one added', () => {
    const signed = request();
    const changed = { ...signed, body: Buffer.from(body.replace('hé', 'he'), 'utf8') };
    const added = { ...signed, body: Buffer.from(`${body} `, 'utf8') };
    expect(checkSlackSignature(SECRET, changed, NOW).ok).toBe(false);
    expect(checkSlackSignature(SECRET, added, NOW).ok).toBe(false);
  });

  it('refuses a timestamp more than 5 minutes old or ahead, even when signed: a replay', () => {
    const reason = 'X-Slack-Request-Timestamp is more than 5 minutes away from now';
    const old = String(NOW.getTime() / 1000 - 301);
    const ahead = String(NOW.getTime() / 1000 + 301);
    expect(checkSlackSignature(SECRET, request({ timestamp: old }), NOW)).toEqual({ ok: false, reason });
    expect(checkSlackSignature(SECRET, request({ timestamp: ahead }), NOW)).toEqual({ ok: false, reason });
  });

  it('refuses a request without the signature or the timestamp header, or with a timestamp that is no number', () => {
    const reason = 'missing X-Slack-Signature or X-Slack-Request-Timestamp';
    expect(checkSlackSignature(SECRET, request({ signature: undefined }), NOW)).toEqual({ ok: false, reason });
    expect(checkSlackSignature(SECRET, request({ timestamp: undefined }), NOW)).toEqual({ ok: false, reason });
    for (const bad of ['', '1.5e9', 'now', '-1']) {
      expect(checkSlackSignature(SECRET, request({ timestamp: bad }), NOW).ok, bad).toBe(false);
    }
  });
});

describe('checkSlackHeaders', () => {
  const now = new Date('2026-12-05T10:00:00Z');
  const fresh = String(Math.floor(now.getTime() / 1000));
  const shaped = `v0=${'ab'.repeat(32)}`;

  it("passes a fresh timestamp and a signature shaped as Slack's, whatever the body will say", () => {
    expect(checkSlackHeaders({ timestamp: fresh, signature: shaped }, now)).toEqual({ ok: true });
  });

  it("refuses, from the headers alone, what cannot be a signature of Slack's", () => {
    for (const signature of ['v0=x', `v1=${'ab'.repeat(32)}`, `v0=${'AB'.repeat(32)}`, `v0=${'ab'.repeat(33)}`, '']) {
      expect(checkSlackHeaders({ timestamp: fresh, signature }, now)).toEqual({
        ok: false,
        reason: 'X-Slack-Signature is not v0= and 64 hex digits',
      });
    }
    expect(checkSlackHeaders({ timestamp: '1', signature: shaped }, now).ok).toBe(false);
    expect(checkSlackHeaders({ timestamp: undefined, signature: shaped }, now).ok).toBe(false);
  });
});
