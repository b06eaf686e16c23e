// `irbot report --html`: one self-contained page (inline CSS, inline SVG charts, no script, no request) for people
// who would rather look than read. Template ids and alert names come from webhooks: every one is escaped.
import { neutraliseLine } from '../untrusted-text.js';
import { VERDICTS, type Verdict } from './facts.js';
import type { Counts, Report } from './stats.js';
import { formatRate, formatSpread, formatStepUp, windowWords } from './table.js';

const VERDICT_LABELS: Record<Verdict, string> = {
  aware: 'aware',
  not_aware: 'not aware',
  no_answer: 'no answer',
  ended_by_analyst: 'ended by analyst',
  failed: 'failed',
};

const VERDICT_COLOURS: Record<Verdict, string> = {
  aware: '#2e7d32',
  not_aware: '#c62828',
  no_answer: '#f9a825',
  ended_by_analyst: '#607d8b',
  failed: '#6a1b9a',
};

/** Text for HTML content and attribute values: neutralised to one line, then `& < > " '` escaped. */
export function escapeHtml(text: string): string {
  return neutraliseLine(text).replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char,
  );
}

// No script, no fetch, no font or image from anywhere: the browser is told so, should a string ever get through.
const CSP = "default-src 'none'; style-src 'unsafe-inline'";

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.4rem; margin-bottom: 0.2rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.window { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5rem 0; } th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f5f5f5; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.all td { font-weight: 600; }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; }
figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: 0.3rem; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
.legend span { display: inline-block; margin-right: 1rem; } .legend i { display: inline-block; width: 0.8rem;
  height: 0.8rem; margin-right: 0.3rem; vertical-align: -0.1rem; }
`;

export function renderReportHtml(report: Report): string {
  const rows: Array<{ label: string; name: string; counts: Counts; all: boolean }> = [
    ...report.templates.map((t) => ({ label: t.template, name: t.name, counts: t as Counts, all: false })),
    { label: 'all', name: '', counts: report.overall, all: true },
  ];
  const cell = (text: string | number, numeric = true) =>
    `<td${numeric ? ' class="n"' : ''}>${escapeHtml(String(text))}</td>`;
  const volume = rows
    .map(
      (r) =>
        `<tr${r.all ? ' class="all"' : ''}>${cell(r.label, false)}${cell(r.name, false)}${cell(r.counts.alerts)}${cell(r.counts.dismissed)}${cell(r.counts.suppressed)}${cell(r.counts.chats)}${cell(formatRate(r.counts))}${cell(formatSpread(r.counts.first_reply))}${cell(formatSpread(r.counts.verdict))}</tr>`,
    )
    .join('\n');
  const outcomes = rows
    .map(
      (r) =>
        `<tr${r.all ? ' class="all"' : ''}>${cell(r.label, false)}${VERDICTS.map((v) => cell(r.counts.outcomes[v])).join('')}${cell(r.counts.open)}${cell(formatStepUp(r.counts), false)}${cell(r.counts.escalations)}</tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>irbot report</title>
<style>${STYLE}</style>
</head>
<body>
<h1>irbot report</h1>
<p class="window">${escapeHtml(windowWords(report))}</p>
<div class="charts">
<figure><figcaption>Verdicts per week</figcaption>${verdictsChart(report)}
<div class="legend">${VERDICTS.map((v) => `<span><i style="background:${VERDICT_COLOURS[v]}"></i>${VERDICT_LABELS[v]}</span>`).join('')}</div></figure>
<figure><figcaption>Time from greeting to first reply</figcaption>${replyTimesChart(report)}</figure>
</div>
<h2>Volume and speed</h2>
<table>
<tr><th>Template</th><th>Name</th><th>Alerts</th><th>Dismissed</th><th>Suppressed</th><th>Chats</th><th>Reply rate</th><th>First reply p50 / p90</th><th>Verdict p50 / p90</th></tr>
${volume}
</table>
<h2>Outcomes</h2>
<table>
<tr><th>Template</th>${VERDICTS.map((v) => `<th>${VERDICT_LABELS[v]}</th>`).join('')}<th>Open</th><th>Step-up</th><th>Escalated</th></tr>
${outcomes}
</table>
</body>
</html>
`;
}

const WIDTH = 560;
const HEIGHT = 240;
const PAD = { left: 40, right: 10, top: 10, bottom: 40 };

/** A stacked bar per week, one segment per verdict. */
function verdictsChart(report: Report): string {
  const { weeks } = report;
  if (weeks.length === 0) return emptyChart('verdicts-per-week', 'No verdicts in this window.');
  const totals = weeks.map((w) => VERDICTS.reduce((sum, v) => sum + w[v], 0));
  const max = Math.max(1, ...totals);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / weeks.length;
  const barW = Math.max(1, slot * 0.8);
  const labelEvery = Math.ceil(weeks.length / 8);
  const bars = weeks.flatMap((week, i) => {
    const x = PAD.left + i * slot + (slot - barW) / 2;
    let y = PAD.top + plotH;
    const segments = VERDICTS.filter((v) => week[v] > 0).map((v) => {
      const h = (week[v] / max) * plotH;
      y -= h;
      return `<rect class="bar" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${VERDICT_COLOURS[v]}"><title>week of ${escapeHtml(week.week)}: ${week[v]} ${VERDICT_LABELS[v]}</title></rect>`;
    });
    const label =
      i % labelEvery === 0
        ? `<text x="${(x + barW / 2).toFixed(1)}" y="${HEIGHT - PAD.bottom + 14}" text-anchor="middle">${escapeHtml(week.week.slice(5))}</text>`
        : '';
    return [...segments, label];
  });
  return svg('verdicts-per-week', `Verdicts per week, at most ${max} in a week`, [...axes(max), ...bars]);
}

/** A bar per bucket of time from the greeting to the person's first reply. */
function replyTimesChart(report: Report): string {
  const buckets = report.first_reply_buckets;
  if (buckets.every((b) => b.count === 0)) return emptyChart('time-to-answer', 'Nobody replied in this window.');
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / buckets.length;
  const bars = buckets.flatMap((bucket, i) => {
    const x = PAD.left + i * slot + slot * 0.1;
    const h = (bucket.count / max) * plotH;
    const y = PAD.top + plotH - h;
    return [
      `<rect class="bar" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.8).toFixed(1)}" height="${h.toFixed(1)}" fill="#1565c0"><title>${escapeHtml(bucket.label)}: ${bucket.count}</title></rect>`,
      `<text x="${(x + slot * 0.4).toFixed(1)}" y="${HEIGHT - PAD.bottom + 14}" text-anchor="middle">${escapeHtml(bucket.label)}</text>`,
    ];
  });
  return svg('time-to-answer', `First replies by time after the greeting, at most ${max} in a bucket`, [
    ...axes(max),
    ...bars,
  ]);
}

function axes(max: number): string[] {
  const bottom = HEIGHT - PAD.bottom;
  return [
    `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${bottom}" stroke="#999"/>`,
    `<line x1="${PAD.left}" y1="${bottom}" x2="${WIDTH - PAD.right}" y2="${bottom}" stroke="#999"/>`,
    `<text x="${PAD.left - 4}" y="${PAD.top + 10}" text-anchor="end">${max}</text>`,
    `<text x="${PAD.left - 4}" y="${bottom}" text-anchor="end">0</text>`,
  ];
}

function svg(id: string, label: string, parts: string[]): string {
  return `<svg id="${id}" xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(label)}">${parts.join('')}</svg>`;
}

function emptyChart(id: string, words: string): string {
  return svg(id, words, [`<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">${escapeHtml(words)}</text>`]);
}
