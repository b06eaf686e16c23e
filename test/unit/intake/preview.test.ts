// Tests of the dry-run preview for a terminal: what would be posted, with an alert's hostile fields shown, not obeyed.
import { describe, expect, it } from 'vitest';
import { previewAlert, renderPreviews } from '../../../src/intake/preview.js';

describe('renderPreviews', () => {
  it('shows the control and bidi characters of every field instead of passing them to the terminal', () => {
    const text = renderPreviews([
      previewAlert({
        id: 'pivot',
        name: 'Pivoting\u001b]0;pwned\u0007',
        description: 'line one\r\nline two\u001b[2J\u202e',
        userId: 'U0HAROLD',
        properties: { 'host\u009b31m': 'a\u0007' },
        dedupeKey: 'k\u001b[1A',
      }),
    ]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(text).toContain('Pivoting␛]0;pwned␇');
    // Shown in the details reply as Slack will show it, escaped: `<U+202E>` in Slack.
    expect(text).toContain('line two␛[2J&lt;U+202E&gt;');
    expect(text).toContain('dedupe_key k␛[1A');
    // Each line of a text stays indented under its heading: none starts at the margin.
    const body = text.split('\n').filter((l) => l !== '' && !l.startsWith('alert ') && !l.startsWith('dry run'));
    for (const line of body) expect(line.startsWith('  ')).toBe(true);
  });
});

describe('the alert’s own choices', () => {
  const base = { id: 'pivot', name: 'Pivoting', description: 'd', userId: 'U0HAROLD', properties: {} };

  it('shows step_up, severity and urgent when the alert sets them, null in JSON when it leaves them to config', () => {
    const chosen = previewAlert({ ...base, stepUp: false, severity: 'critical', urgent: true });
    expect(chosen).toMatchObject({ step_up: false, severity: 'critical', urgent: true });
    expect(renderPreviews([chosen])).toContain(
      'alert 1 of 1: pivot (step_up off, severity critical, urgent: skips the wait for working hours)',
    );
    expect(previewAlert(base)).toMatchObject({ step_up: null, severity: null, urgent: null });
    expect(renderPreviews([previewAlert(base)])).toContain('alert 1 of 1: pivot\n');
  });
});
