// bench/REPORT.md and bench/campaign.svg from the results: tables, the lower-bound formula, a hand-drawn chart.
import type { CpuSpent } from './lib/cpu.js';
import type { FailoverReport } from './lib/failover.js';
import type { LowerBound } from './lib/lower-bound.js';
import { type Check, type Machine, type ScenarioResult, verdict, withUnit } from './lib/result.js';
import { isCampaign, llmServerLatencyMs, type Settings } from './lib/settings.js';

export interface Results {
  generatedAt: string;
  command: string;
  machine: Machine;
  settings: Settings;
  scenarios: ScenarioResult[];
}

interface CampaignRaw {
  n: number;
  /** Column heading: `N = 1000`, or with the deployment (PostgreSQL, replicas); absent in older results. */
  label?: string;
  complete: boolean;
  completed: number;
  totalSeconds: number;
  lowerBoundSeconds: number;
  lowerBound: LowerBound;
  uncoalescedLowerBoundSeconds: number;
  ratio: number;
  ratioToUncoalescedBound: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** The machine's cores, busy over the campaign (absent in results from before it was measured). */
  machineBusyPct?: number | null;
  /** CPU seconds over the campaign, by who spent them (absent in results from before it was measured). */
  cpuSeconds?: CpuSpent;
  settings: { deadlineS: number };
  setupSeconds: number;
  stages: Record<string, number>;
  lost: number;
  doubled: number;
  lostByKind: Record<string, number>;
  doubledByKind: Record<string, number>;
  threadMessagesWithRelayLines: number;
  relayLines: number;
  rateLimited: Record<string, number>;
  total429: number;
  socketRedeliveries: number;
  chatStates: Record<string, number>;
  completions: number[];
  llmRequestsByKind: Record<string, number>;
  /** PostgreSQL campaigns: each replica's peak RSS, and the failover's numbers. */
  replicaPeakRssMb?: number[];
  failover?: FailoverReport | null;
}

/**
 * Where the machine's CPU went: irbot (each replica and their sum; in the bench process itself for the lowdb
 * campaigns), the PostgreSQL server, the bench process (the local Slack and OpenAI, and irbot when in-process).
 */
function cpuRow(r: CampaignRaw): string {
  const cpu = r.cpuSeconds;
  if (!cpu) return '–';
  const known = cpu.replicas.filter((s): s is number => s !== null);
  const irbot =
    cpu.replicas.length === 0
      ? 'in the bench process'
      : `${fmt(known.reduce((a, b) => a + b, 0))}${cpu.replicas.length > 1 ? ` (${cpu.replicas.map((s) => fmt(s)).join(' + ')})` : ''}`;
  return `${irbot} / ${fmt(cpu.postgres)} / ${fmt(cpu.bench)} / ${fmt(cpu.machine)} s`;
}

const fmt = (value: number | null, digits = 1): string =>
  value === null || Number.isNaN(value) ? '–' : Number.isInteger(value) ? String(value) : value.toFixed(digits);

const shownValue = (c: Check): string => withUnit(c.value, c.unit);

export function summaryLines(results: Results): string[] {
  const lines: string[] = [];
  for (const s of results.scenarios) {
    if (s.error) lines.push(`ERROR ${s.name}: ${s.error.split('\n')[0]}`);
    for (const c of s.checks)
      lines.push(`${verdict(c).padEnd(4)} ${s.name}: ${c.metric} = ${shownValue(c)} (target ${c.target})`);
  }
  return lines;
}

export function renderReport(results: Results, chartFile: string | null): string {
  const { machine, settings } = results;
  const out: string[] = [];
  out.push('# irbot benchmark', '');
  out.push(
    `Generated ${results.generatedAt} by \`${results.command}\` on ${machine.os} (${machine.arch}), ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB, Node ${machine.node}. Raw numbers: [results.json](results.json).`,
    '',
  );
  out.push(
    `Settings: Slack rate limits ×${settings.rateScale} (\`BENCH_RATE_SCALE\`; ×${settings.pgRateScale} for the campaigns of one and three replicas on PostgreSQL, \`BENCH_PG_RATE_SCALE\`, see their notes) with ${settings.rateToleranceMs} ms leeway (\`BENCH_RATE_TOLERANCE_MS\`); LLM latency ${settings.llmLatencyMs} ms (\`BENCH_LLM_LATENCY_MS\`), ${settings.llmLatencyScaled ? `sped up ×${settings.rateScale} like Slack (${llmServerLatencyMs(settings)} ms real)` : 'in real time (`BENCH_LLM_LATENCY_UNSCALED=1`)'}; campaigns ${settings.campaignSizes.join(', ')} (\`BENCH_CAMPAIGNS\`), deadline ${settings.deadlineS} s at most (\`BENCH_DEADLINE_S\`); Socket Mode re-delivery of unacknowledged envelopes after ${settings.redeliverMs} ms (\`BENCH_REDELIVER_MS\`).`,
    '',
  );
  const summaryRows: string[][] = [];
  for (const s of results.scenarios) {
    if (s.error) summaryRows.push([s.name, '**failed to run**', '–', '–', 'ERROR']);
    for (const c of s.checks) summaryRows.push([s.name, c.metric, shownValue(c), c.target, verdict(c)]);
  }
  out.push('## Summary', '', ...table(['scenario', 'metric', 'value', 'target', 'result'], 'llrll', summaryRows), '');

  const campaigns = results.scenarios.filter((s) => isCampaign(s.name) && !s.error);
  if (campaigns.length > 0) {
    out.push('## Campaign', '');
    const rows: [string, (r: CampaignRaw, s: ScenarioResult) => string][] = [
      ['chats completed', (r) => `${r.completed} of ${r.n}${r.complete ? '' : ' (deadline)'}`],
      [
        'total time (first click → last chat done)',
        (r) => `${fmt(r.totalSeconds, 2)} s${r.complete ? '' : ' (stopped)'}`,
      ],
      ['deadline', (r) => `${fmt(r.settings.deadlineS, 0)} s`],
      ['lower bound (floor)', (r) => `${fmt(r.lowerBoundSeconds, 2)} s: ${r.lowerBound.binding}`],
      ['ratio (target ≤ 1.1)', (r) => `${r.complete ? '' : '≥ '}${fmt(r.ratio, 2)}`],
      [
        'bound with one message per line, 2 updates per chat',
        (r) =>
          `${fmt(r.uncoalescedLowerBoundSeconds, 2)} s (ratio ${r.complete ? '' : '≥ '}${fmt(r.ratioToUncoalescedBound, 2)})`,
      ],
      ['relay lines lost / doubled', (r) => `${r.lost} / ${r.doubled}${kinds(r.lostByKind, r.doubledByKind)}`],
      ['thread messages carrying relay lines', (r) => `${r.threadMessagesWithRelayLines} for ${r.relayLines} lines`],
      [
        '429 answers',
        (r) =>
          `${r.total429}${
            r.total429 > 0
              ? ` (${Object.entries(r.rateLimited)
                  .map(([m, k]) => `${m} ${k}`)
                  .join(', ')})`
              : ''
          }`,
      ],
      [
        'greeted / nudged / thanked / summaries',
        (r) => `${r.stages.greeted} / ${r.stages.nudged} / ${r.stages.thanked} / ${r.stages.summaries}`,
      ],
      [
        'chat states at the end',
        (r) =>
          Object.entries(r.chatStates)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
      ],
      ['Socket Mode re-deliveries', (r) => String(r.socketRedeliveries)],
      [
        'event-loop delay p50 / p99 / max',
        (r) => `${fmt(r.eventLoopDelayMs.p50)} / ${fmt(r.eventLoopDelayMs.p99)} / ${fmt(r.eventLoopDelayMs.max)} ms`,
      ],
      [
        'machine’s cores busy during the campaign (both, all processes)',
        (r) => (r.machineBusyPct === undefined || r.machineBusyPct === null ? '–' : `${r.machineBusyPct} %`),
      ],
      ['CPU seconds during the campaign: irbot / PostgreSQL / bench process / all processes', cpuRow],
      [
        'LLM requests',
        (r) =>
          Object.entries(r.llmRequestsByKind)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
      ],
      ['set-up (posting alerts, not counted)', (r) => `${fmt(r.setupSeconds, 1)} s`],
      ['peak RSS (bench process: irbot + local Slack + fake OpenAI)', (_r, s) => `${fmt(s.peakRssMb)} MB`],
    ];
    if (campaigns.some((s) => (s.raw as unknown as CampaignRaw).replicaPeakRssMb)) {
      rows.push([
        'peak RSS of each irbot replica (PostgreSQL; the bench process then holds no irbot)',
        (r) => (r.replicaPeakRssMb ? `${r.replicaPeakRssMb.map((mb) => fmt(mb)).join(' / ')} MB` : '–'),
      ]);
    }
    if (campaigns.some((s) => (s.raw as unknown as CampaignRaw).failover)) {
      rows.push(
        [
          'failover: replica killed at / chats it held',
          (r) => (r.failover ? `${fmt(r.failover.killedAtS, 1)} s / ${r.failover.heldChats}` : '–'),
        ],
        [
          'failover: its chats’ next message, median / last (from its exit)',
          (r) =>
            r.failover?.moveOnMs
              ? `${fmt(r.failover.moveOnMs.p50 / 1000, 2)} / ${fmt(r.failover.moveOnMs.max / 1000, 2)} s (${r.failover.movedOn} of ${r.failover.heldChats})`
              : '–',
        ],
        [
          'failover: its last claim taken over after',
          (r) =>
            r.failover
              ? r.failover.allTakenOverMs === null
                ? 'not within the run'
                : `${fmt(r.failover.allTakenOverMs / 1000, 2)} s`
              : '–',
        ],
      );
    }
    out.push(
      ...table(
        ['', ...campaigns.map((s) => labelOf(s.raw as unknown as CampaignRaw))],
        'l'.repeat(campaigns.length + 1),
        rows.map(([label, cell]) => [label, ...campaigns.map((s) => cell(s.raw as unknown as CampaignRaw, s))]),
      ),
      '',
    );
    if (chartFile) out.push(`![Completed chats over time against the lower bound](${chartFile})`, '');
    out.push('### How it runs', '', ...howCampaignsRun(settings), '');
    out.push('### The lower bound', '');
    out.push(
      'Each chat of the campaign carries 6 relay lines into its alert thread (greeting sent, reply received, nudge sent, answer received, thanks sent, summary), 2 states of the alert message (chat started, chat ended), 3 DMs (greeting, nudge, thanks: each waits for the person, so none can be merged) and 1 `users.info`; its 5 LLM calls (greet, classify, nudge, classify, summarise) follow one another. Every thread is in the one feed channel, so all thread posts share one `chat.postMessage` bucket; each DM is a channel of its own.',
      '',
      'What a correct irbot must send at the least: one thread message per chat (relay lines may share a message) and one `chat.update` per chat (a chat that ends before its "started" update went out needs only the final one). A bucket b with rate r_b (calls per second, as scaled) and burst B_b, starting full, needs (C_b − B_b′) / r_b seconds to carry C_b calls, where B_b′ = B_b + leeway × r_b (the local Slack lets calls up to `BENCH_RATE_TOLERANCE_MS` early). The lower bound is the largest term:',
      '',
      '```',
      'LB = max( (N − B′_post) / r_post        chat.postMessage, feed channel: 1 message per chat',
      '          (N − B′_update) / r_update    chat.update, workspace (Tier 3): 1 per chat',
      '          (N − B′_users) / r_users      users.info, workspace (Tier 4): 1 per chat',
      '          (3 − B′_post) / r_post        chat.postMessage, one DM channel',
      '          5 × LLM latency )             one chat’s LLM calls in a row',
      'ratio = total time (first click → last chat done) / LB      target ≤ 1.1',
      '```',
      '',
      'A chat is done when its thread holds the summary line and its alert message has lost its buttons. For reference the table also gives the bound of the flow without coalescing: 6N thread messages and 2N updates in the same formula.',
      '',
    );
    for (const s of campaigns) {
      const r = s.raw as unknown as CampaignRaw;
      const terms = r.lowerBound.terms.map((t) => [
        t.what,
        String(t.calls),
        t.perMinute ? fmt(t.perMinute, 0) : '–',
        t.perMinute ? fmt(t.burst, 1) : '–',
        fmt(t.seconds, 2),
      ]);
      out.push(
        `Terms for ${labelOf(r)}:`,
        '',
        ...table(['term', 'calls', 'rate /min (scaled)', 'burst', 'seconds'], 'lrrrr', terms),
        '',
      );
    }
  }

  for (const s of results.scenarios.filter((x) => !isCampaign(x.name) || x.error)) {
    out.push(`## ${s.title}`, '');
    if (s.error) out.push('```', s.error, '```', '');
    out.push(...rawTable({ ...s.raw, seconds: s.seconds, peakRssMb: s.peakRssMb }), '');
  }

  out.push('## Notes', '');
  for (const s of results.scenarios) for (const note of s.notes) out.push(`- **${s.name}**: ${note}`);
  out.push(
    '- Every scenario runs in its own Node process started by bench/run.ts; peak RSS is that process’s.',
    '',
    '## Running it',
    '',
    '```sh',
    'npm run bench                                   # build, then every scenario (8 to 14 minutes on 2 cores)',
    'BENCH_ONLY=campaign-100 npm run bench           # some scenarios: cli-startup, overhead, store-growth, report, campaign-N',
    '                                                # and on PostgreSQL: overhead-pg, store-growth-pg, report-pg,',
    '                                                # campaign-pg-x1, campaign-pg-x3, campaign-pg-x3-stress, failover-pg',
    'BENCH_PG_CAMPAIGN=100 BENCH_ONLY=failover-pg npm run bench   # N of the PostgreSQL campaigns (default 1000)',
    'BENCH_PG_URL=postgres://user@host:5432/postgres npm run bench # where bench databases are created (and dropped)',
    'BENCH_RATE_SCALE=10 BENCH_DEADLINE_S=600 BENCH_CAMPAIGNS=100 npm run bench',
    'BENCH_PG_RATE_SCALE=50 BENCH_ONLY=campaign-pg-x3 npm run bench   # Slack’s speed-up in the PostgreSQL campaigns (default 10)',
    '```',
    '',
    'irbot’s log of each run is in dist-bench/logs/.',
    '',
  );
  return out.join('\n');
}

function howCampaignsRun(settings: Settings): string[] {
  const scale = settings.rateScale;
  return [
    '- irbot runs in the bench process, built by `buildApp` as `irbot listen` builds it (real `WebClient` and Socket Mode client, OpenAI writer, the store (lowdb snapshot and journal), its pacer set to `slack_rate_scale` = the bench’s scale), against the local Slack and a local OpenAI-compatible server.',
    '- Set-up, not timed: N people are added to the local Slack and N alerts posted (by an unpaced App on the same store, rate limits off). Then the rate limits go on with full buckets and Start Chat is clicked on every alert at once over Socket Mode; the clock starts at the first click.',
    `- Each person answers the bot’s first DM with "what is this?" and its second (the nudge) with "yes it was me". The local OpenAI server classifies by the last reply, so every chat ends answered after one nudge.`,
    `- Time runs ×${scale}: Slack’s limits are ${scale} times faster${settings.llmLatencyScaled ? `, and so is the LLM (${settings.llmLatencyMs} ms ÷ ${scale}), so the run is the real world sped up, and the ratio is the real one` : '; the LLM is not (BENCH_LLM_LATENCY_UNSCALED=1), so it is slow next to Slack'}. What does not speed up is irbot’s own work and the event loop it shares with the local servers: the leeway (${settings.rateToleranceMs} ms real, \`BENCH_RATE_TOLERANCE_MS\`) lets a call that far ahead of its token through once, and the lower bound counts it.`,
    `- \`Retry-After\` must be a whole number of seconds (the SDK reads it with parseInt), so a 429 asks for at least 1 s: ${scale} s of Slack time. irbot retries only that call after Retry-After (the SDK, left to itself, would pause every call for that long) and holds that bucket back, so a 429 costs far more here than at ×1 but does not cascade.`,
    '- A campaign stops at BENCH_DEADLINE_S or at 10× its lower bound (at least 60 s), whichever comes first: past that the target is long missed. It is then reported incomplete, with how far it got.',
  ];
}

function labelOf(r: CampaignRaw): string {
  return r.label ?? `N = ${r.n}`;
}

function kinds(lost: Record<string, number>, doubled: Record<string, number>): string {
  const parts = [
    ...Object.entries(lost).map(([k, v]) => `${k} −${v}`),
    ...Object.entries(doubled).map(([k, v]) => `${k} +${v}`),
  ];
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

function rawTable(raw: Record<string, unknown>): string[] {
  const rows = Object.entries(raw)
    .filter(([key]) => key !== 'log')
    .map(([key, value]) => [
      key,
      typeof value === 'object' && value !== null ? JSON.stringify(value).replace(/,/g, ', ') : String(value),
    ]);
  return table(['measure', 'value'], 'll', rows);
}

/** A Markdown table with padded columns, as Biome formats it; `align` has one `l` or `r` per column. */
export function table(header: string[], align: string, rows: string[][]): string[] {
  const width = (text: string) => [...text].length;
  const widths = header.map((h, i) => Math.max(3, width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const pad = (text: string, i: number) => {
    const fill = ' '.repeat((widths[i] ?? 0) - width(text));
    return align[i] === 'r' ? fill + text : text + fill;
  };
  const line = (cells: string[]) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)));
  return [line(header), `| ${rule.join(' | ')} |`, ...rows.map(line)];
}

// The chart: one panel per campaign, completed chats over seconds since the first click, and the lower bound as
// the straight line from nothing to all N at LB (the binding bucket working flat out from the start).

const PANEL_W = 440;
const PANEL_H = 300;
const M = { left: 56, right: 16, top: 44, bottom: 44 };

export function renderChart(results: Results): string | null {
  const campaigns = results.scenarios
    .filter((s) => isCampaign(s.name) && !s.error)
    .map((s) => s.raw as unknown as CampaignRaw);
  if (campaigns.length === 0) return null;
  const width = PANEL_W * campaigns.length;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${PANEL_H + 28}" viewBox="0 0 ${width} ${PANEL_H + 28}" font-family="sans-serif" font-size="11">`,
    '<title>irbot campaign: completed chats over time against the lower bound</title>',
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  campaigns.forEach((c, i) => {
    parts.push(`<g transform="translate(${i * PANEL_W},0)">`, ...panel(c), '</g>');
  });
  const legendY = PANEL_H + 14;
  parts.push(
    `<g transform="translate(${M.left},${legendY})">`,
    `<line x1="0" y1="0" x2="24" y2="0" stroke="#1f6fb4" stroke-width="2"/><text x="30" y="4">completed chats</text>`,
    `<line x1="140" y1="0" x2="164" y2="0" stroke="#c62828" stroke-width="1.5" stroke-dasharray="6 4"/><text x="170" y="4">lower bound: the busiest bucket flat out</text>`,
    `<line x1="400" y1="0" x2="424" y2="0" stroke="#888" stroke-width="1" stroke-dasharray="2 3"/><text x="430" y="4">deadline</text>`,
    '</g>',
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

function panel(c: CampaignRaw): string[] {
  const w = PANEL_W - M.left - M.right;
  const h = PANEL_H - M.top - M.bottom;
  const xMax = niceCeil(Math.max(c.totalSeconds, c.lowerBoundSeconds, 1) * 1.05);
  const yMax = c.n;
  const x = (s: number) => px(M.left + (s / xMax) * w);
  const y = (k: number) => px(M.top + h - (k / yMax) * h);
  const out: string[] = [];
  out.push(
    `<text x="${M.left}" y="16" font-size="13" font-weight="bold">${labelOf(c)}: ${c.completed} of ${c.n} done in ${fmt(c.totalSeconds, 1)} s${c.complete ? '' : ' (deadline)'}</text>`,
    `<text x="${M.left}" y="32">lower bound ${fmt(c.lowerBoundSeconds, 1)} s, ratio ${c.complete ? '' : '≥ '}${fmt(c.ratio, 2)}</text>`,
  );
  for (const t of ticks(xMax)) {
    out.push(
      `<line x1="${x(t)}" y1="${M.top}" x2="${x(t)}" y2="${M.top + h}" stroke="#eee"/>`,
      `<text x="${x(t)}" y="${M.top + h + 14}" text-anchor="middle">${t}</text>`,
    );
  }
  for (const k of ticks(yMax)) {
    out.push(
      `<line x1="${M.left}" y1="${y(k)}" x2="${M.left + w}" y2="${y(k)}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${y(k) + 4}" text-anchor="end">${k}</text>`,
    );
  }
  out.push(
    `<line x1="${M.left}" y1="${M.top + h}" x2="${M.left + w}" y2="${M.top + h}" stroke="#333"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + h}" stroke="#333"/>`,
    `<text x="${M.left + w / 2}" y="${PANEL_H - 8}" text-anchor="middle">seconds since the first Start Chat</text>`,
    `<text transform="translate(14,${M.top + h / 2}) rotate(-90)" text-anchor="middle">chats completed</text>`,
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(c.lowerBoundSeconds)}" y2="${y(c.n)}" stroke="#c62828" stroke-width="1.5" stroke-dasharray="6 4"/>`,
  );
  if (!c.complete) {
    out.push(
      `<line x1="${x(c.totalSeconds)}" y1="${M.top}" x2="${x(c.totalSeconds)}" y2="${M.top + h}" stroke="#888" stroke-dasharray="2 3"/>`,
    );
  }
  const points: string[] = [`${x(0)},${y(0)}`];
  c.completions.forEach((t, i) => {
    points.push(`${x(t)},${y(i)}`, `${x(t)},${y(i + 1)}`);
  });
  points.push(`${x(c.totalSeconds)},${y(c.completions.length)}`);
  out.push(`<polyline fill="none" stroke="#1f6fb4" stroke-width="2" points="${points.join(' ')}"/>`);
  return out;
}

/** An SVG coordinate, to a tenth of a pixel. */
function px(value: number): number {
  return Math.round(value * 10) / 10;
}

/** A round number at or above `value`: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten. */
function niceCeil(value: number): number {
  const p = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= value) return m * p;
  return 10 * p;
}

/** About five round ticks from 0 to max. */
function ticks(max: number): number[] {
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = 0; t <= max + 1e-9; t += step) out.push(Math.round(t * 1000) / 1000);
  return out;
}
