// The HTML report in a real browser: Debian's chromium, driven by playwright-core, with the network cut off.
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { factsOf } from '../../src/report/facts.js';
import { renderReportHtml } from '../../src/report/html.js';
import { buildReport } from '../../src/report/stats.js';
import type { AlertRecord } from '../../src/store/port.js';
import { anAlert } from '../support/records.js';

/** The system's Chromium (Debian: apt-get install chromium), or null. Never downloaded: CI has none to fetch. */
function systemChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('which', [name], { encoding: 'utf8' }).trim() || null;
    } catch {}
  }
  return null;
}

const CHROMIUM = systemChromium();
const NOW = new Date('2026-12-04T12:00:00Z');

function answered(day: number, replyMin: number, aware: boolean, template = 'pivot'): AlertRecord {
  const created = Date.parse('2026-10-01T09:00:00Z') + day * 86_400_000;
  const at = (min: number) => new Date(created + min * 60_000).toISOString();
  return anAlert({
    id: `a${day}-${replyMin}`,
    template,
    name: '<script>document.title="pwned"</script>',
    createdAt: at(0),
    transcript: [
      { from: 'bot', text: 'Hi!', at: at(1) },
      { from: 'person', text: 'yes', at: at(1 + replyMin) },
    ],
    chat: {
      ...anAlert().chat,
      state: 'ended',
      startedAt: at(1),
      endedAt: at(2 + replyMin),
      outcome: 'answered',
      aware,
    },
  });
}

describe('irbot report --html', () => {
  it.skipIf(CHROMIUM === null)(
    `renders both charts in headless Chromium, with no request and no script${CHROMIUM ? '' : ' (SKIPPED: no chromium on PATH; on Debian: apt-get install chromium)'}`,
    async () => {
      const alerts = [
        answered(0, 2, true),
        answered(1, 30, false),
        answered(20, 300, true, '"><img src=x onerror=alert(1)>'),
        answered(40, 3000, true),
      ];
      const html = renderReportHtml(buildReport(alerts.map(factsOf), { since: null, template: null, now: NOW }));
      const file = join(await mkdtemp(join(tmpdir(), 'irbot-report-html-')), 'report.html');
      await writeFile(file, html);
      const browser = await chromium.launch({ executablePath: CHROMIUM ?? '', args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        const requests: string[] = [];
        const problems: string[] = [];
        page.on('request', (request) => requests.push(request.url()));
        page.on('console', (message) => problems.push(message.text()));
        page.on('pageerror', (error) => problems.push(error.message));
        page.on('dialog', (dialog) => problems.push(`dialog: ${dialog.message()}`));
        await page.goto(pathToFileURL(file).href);
        const charts = [];
        for (const id of ['verdicts-per-week', 'time-to-answer']) {
          const box = await page.locator(`svg#${id}`).boundingBox();
          const bars = await Promise.all((await page.locator(`svg#${id} rect.bar`).all()).map((b) => b.boundingBox()));
          charts.push({
            id,
            width: box?.width,
            height: box?.height,
            bars: bars.length,
            drawn: bars.filter((b) => b !== null && b.width > 0 && b.height > 0).length,
          });
        }
        // 7 weeks, 4 of them with one verdict each; 6 time buckets, 4 of them with one first reply each.
        expect(charts).toEqual([
          { id: 'verdicts-per-week', width: 560, height: 240, bars: 4, drawn: 4 },
          { id: 'time-to-answer', width: 560, height: 240, bars: 6, drawn: 4 },
        ]);
        expect(await page.title()).toBe('irbot report');
        expect(await page.locator('img').count()).toBe(0);
        expect(await page.locator('td', { hasText: '<script>' }).count()).toBeGreaterThan(0);
        expect(requests).toEqual([pathToFileURL(file).href]);
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );
});
