// The transcript's data and Markdown for an alert whose chat never started.
import { describe, expect, it } from 'vitest';
import { renderTranscript, type TranscriptData } from '../../../src/cli/transcript.js';

const waiting: TranscriptData = {
  alert: {
    id: 'privesc-0a0b0c',
    template: 'privesc',
    name: 'Privileged Escalation',
    description: '',
    properties: { note: 'a | b\nc' },
    user_id: 'U0HAROLD',
    person: null,
    channel: 'C0FEED',
    ts: null,
    created_at: '2025-01-02T10:00:00.123Z',
    last_activity_at: '2025-01-02T10:00:00.123Z',
  },
  started_by: null,
  started_at: null,
  messages: [],
  held: [],
  verdict: {
    state: 'failed',
    outcome: null,
    aware: null,
    needs_review: false,
    nudges: 0,
    verified: null,
    verified_reason: null,
    failure: 'channel_not_found (check feed_channel_id)',
  },
  ended_by: null,
  ended_at: null,
};

describe('renderTranscript', () => {
  it('lists the lines kept for a queued chat as not sent yet, escaped', () => {
    const queued: TranscriptData = {
      ...waiting,
      held: [{ by: 'U0SAM', text: 'Sam here: # not a heading' }],
      verdict: { ...waiting.verdict, state: 'queued', failure: null },
    };
    const text = renderTranscript(queued);
    expect(text).toContain('## Kept for when the chat starts (1, not sent yet)');
    expect(text).toContain('> Sam here: \\# not a heading');
    expect(renderTranscript(waiting)).not.toContain('Kept for when');
  });

  it('says what has not happened yet, and why a failed chat stopped and keeps table cells on one line', () => {
    const md = renderTranscript(waiting);
    expect(md).toContain('- **Person:** U0HAROLD');
    expect(md).toContain('- **Posted:** 2025-01-02 10:00:00 UTC in C0FEED (not accepted by Slack)');
    expect(md).not.toContain('Description');
    expect(md).toContain('| note | a \\| b c |');
    expect(md).toContain('Never started.');
    expect(md).toContain('## Messages (0)\n\nNone.');
    expect(md).toContain('- **Outcome:** none yet');
    expect(md).toContain('- **Aware:** unknown');
    expect(md).toContain('- **Ended:** not yet');
    expect(md).toContain('- **Failed:** channel_not_found (check feed_channel_id)');
  });

  it('heads each message with a role word the person cannot set: one named "irbot" does not read as the bot', () => {
    const at = '2025-01-02T10:01:02.000Z';
    const md = renderTranscript({
      ...waiting,
      alert: { ...waiting.alert, person: 'irbot' },
      messages: [
        { at, from: 'bot', text: 'Was that you?' },
        { at, from: 'person', text: 'Was that you?' },
      ],
    });
    const headings = md.split('\n').filter((line) => line.startsWith('**2025-01-02 10:01:02 UTC'));
    expect(headings).toEqual([
      '**2025-01-02 10:01:02 UTC — irbot → person irbot**',
      '**2025-01-02 10:01:02 UTC — person irbot → irbot**',
    ]);
  });

  it('says an aware answer needs review when a reply of the person tried to instruct the bot', () => {
    const verdict = { ...waiting.verdict, state: 'ended', outcome: 'answered', aware: true, failure: null } as const;
    expect(renderTranscript({ ...waiting, verdict: { ...verdict, needs_review: true } })).toContain(
      "- **Aware:** yes — needs review: the person's reply tried to instruct the bot",
    );
    expect(renderTranscript({ ...waiting, verdict })).toContain('- **Aware:** yes\n');
  });

  it("says what the step-up came to, with its reason in the person's terms escaped", () => {
    const ended = { ...waiting.verdict, state: 'ended' as const, outcome: 'answered' as const, aware: true };
    const denied = renderTranscript({ ...waiting, verdict: { ...ended, verified: 'denied', verified_reason: 'no' } });
    expect(denied).toContain(
      '- **Step-up:** DENIED: the person said it was them but refused the push — treat as a possible account compromise (no)',
    );
    const down = renderTranscript({
      ...waiting,
      verdict: { ...ended, verified: 'error', verified_reason: 'Duo said <b>*down*</b>' },
    });
    expect(down).toMatch(/- \*\*Step-up:\*\* unverified \(error\) \(Duo said .*down.*\)/);
    expect(down).not.toContain('<b>');
    expect(renderTranscript(waiting)).not.toContain('Step-up');
  });
});
