/** The metrics page: filters, cards with the continuity figures, uPlot charts, and the definitions. */
import { html } from 'htm/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import type { Distribution, Me, MetricsBucket, MetricsReport } from '../contract';
import { errorText, get } from './api';
import { Chart, bars, durationTick } from './chart';
import { CHANNELS, Icon, channelLabel, day, duration, num, percent, serverNow } from './util';

const COLORS = { frt: '#2563eb', frtP90: '#93c5fd', res: '#059669', resP90: '#6ee7b7', conv: '#6366f1', resolved: '#10b981', dist: '#f59e0b' };

export function Metrics({ me }: { me: Me }) {
  const [days, setDays] = useState(7);
  const [bucket, setBucket] = useState<MetricsBucket>('day');
  const [channel, setChannel] = useState('');
  const [agentId, setAgentId] = useState('');
  const [report, setReport] = useState<MetricsReport | null>(null);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(false);
  const [dist, setDist] = useState<'firstResponseSeconds' | 'resolutionSeconds' | 'handleSeconds'>('firstResponseSeconds');

  useEffect(() => {
    let live = true;
    // Whole days in the viewer's time zone, ending now.
    const end = new Date(serverNow());
    const start = new Date(end);
    start.setHours(0, 0, 0, 0);
    start.setDate(start.getDate() - (days - 1));
    setLoading(true);
    get<MetricsReport>('metrics', { from: start.toISOString(), to: end.toISOString(), bucket, channel, agentId })
      .then((r) => {
        if (!live) return;
        setReport(r);
        setError('');
      })
      .catch((err) => live && setError(errorText(err)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [days, bucket, channel, agentId]);

  const channels = useMemo(() => [...new Set([...CHANNELS.filter((c) => me.sendChannels.includes(c)), ...me.sendChannels, ...Object.keys(report?.byChannel ?? {})])], [me, report]);
  const defs = report?.definitions ?? {};
  const def = (...keys: string[]) => keys.map((k) => defs[k]).find(Boolean) ?? '';

  return html`
    <main class="metrics" aria-labelledby="metrics-title" data-test="metrics">
      <header class="metrics-head">
        <h1 id="metrics-title">Continuity metrics</h1>
        <div class="filters" role="group" aria-label="Filters">
          <label>Period
            <select value=${days} onChange=${(e: Event) => setDays(Number((e.target as HTMLSelectElement).value))} data-test="metrics-period">
              <option value="7">Last 7 days</option>
              <option value="30">Last 30 days</option>
            </select>
          </label>
          <label>Bucket
            <select value=${bucket} onChange=${(e: Event) => setBucket((e.target as HTMLSelectElement).value as MetricsBucket)} data-test="metrics-bucket">
              <option value="day">Day</option>
              <option value="week">Week</option>
            </select>
          </label>
          <label>Channel
            <select value=${channel} onChange=${(e: Event) => setChannel((e.target as HTMLSelectElement).value)} data-test="metrics-channel">
              <option value="">All channels</option>
              ${channels.map((c) => html`<option key=${c} value=${c}>${channelLabel(c)}</option>`)}
            </select>
          </label>
          <label>Agent
            <select value=${agentId} onChange=${(e: Event) => setAgentId((e.target as HTMLSelectElement).value)} data-test="metrics-agent">
              <option value="">All agents</option>
              ${me.agents.map((a) => html`<option key=${a.id} value=${a.id}>${a.name}</option>`)}
            </select>
          </label>
          ${loading && html`<span class="muted small" aria-live="polite">Loading…</span>`}
        </div>
      </header>
      ${error && html`<p class="inline-error" role="alert">${error}</p>`}
      ${report &&
      html`
        <${Cards} report=${report} def=${def} />
        <div class="charts">
          <${TimeCharts} report=${report} />
          <${DistributionChart} report=${report} which=${dist} onWhich=${setDist} />
        </div>
        ${Object.keys(defs).length > 0 &&
        html`<details class="definitions" data-test="metrics-definitions">
          <summary>Definitions</summary>
          <dl>${Object.entries(defs).map(([k, v]) => html`<dt key=${`k${k}`}>${k}</dt><dd key=${`v${k}`}>${v}</dd>`)}</dl>
        </details>`}
      `}
    </main>
  `;
}

function Card({ label, value, sub, help, test }: { label: string; value: string; sub?: string; help: string; test: string }) {
  return html`<div class="card" data-test=${`metric-${test}`} title=${help}>
    <div class="card-label">${label}${help && html` <span class="help"><${Icon} name="info" /></span>`}</div>
    <div class="card-value">${value}</div>
    ${sub && html`<div class="card-sub">${sub}</div>`}
    ${help && html`<span class="sr-only">${help}</span>`}
  </div>`;
}

function Cards({ report, def }: { report: MetricsReport; def: (...k: string[]) => string }) {
  const t = report.totals;
  const d = (x: Distribution) => `p90 ${duration(x.p90)} · n=${x.count}`;
  return html`<div class="cards">
    <${Card} test="conversations" label="Conversations" value=${String(t.conversations)} sub=${`${t.resolved} resolved`} help=${def('conversations')} />
    <${Card} test="frt" label="First response (median)" value=${duration(t.firstResponseSeconds.median)} sub=${d(t.firstResponseSeconds)} help=${def('firstResponseSeconds', 'firstResponse')} />
    <${Card} test="resolution" label="Resolution (median)" value=${duration(t.resolutionSeconds.median)} sub=${d(t.resolutionSeconds)} help=${def('resolutionSeconds', 'resolution')} />
    <${Card} test="handle" label="Handle time (median)" value=${duration(t.handleSeconds.median)} sub=${d(t.handleSeconds)} help=${def('handleSeconds', 'handle')} />
    <${Card} test="messages" label="Messages per resolution" value=${num(t.messagesPerResolution)} help=${def('messagesPerResolution')} />
    <${Card} test="repeat" label="Repeat rate" value=${percent(t.repeatRate.rate)} sub=${`${t.repeatRate.repeats} of ${t.repeatRate.opportunities}`} help=${def('repeatRate')} />
    <${Card} test="switches" label="Channel switches" value=${String(t.channelSwitches.total)}
      sub=${`${percent(t.channelSwitches.continuedShare)} continued · ${num(t.channelSwitches.perConversation, 2)}/conv.`} help=${def('channelSwitches')} />
    <${Card} test="csat" label="CSAT" value=${num(t.csat.average)} sub=${`${percent(t.csat.satisfiedShare)} satisfied · ${t.csat.responses} ratings`} help=${def('csat')} />
    <${Card} test="ai-share" label="Handled by AI" value=${percent(t.handledBy.aiShare)} sub=${`AI ${t.handledBy.ai} · human ${t.handledBy.human}`} help=${def('handledBy', 'aiShare')} />
  </div>`;
}

const axisStroke = '#6b7280';
/** Tick steps for durations in seconds: whole minutes and hours. */
const DURATION_INCRS = [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
const durationValues = (_u: uPlot, splits: number[]) => splits.map(durationTick);
const zeroTo = (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, max > 0 ? max * 1.1 : 60];
const countRange = (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(1, max * 1.1)];
const grid = { stroke: '#eef0f3', width: 1 };
const timeAxis = (bucket: MetricsBucket): uPlot.Axis => ({
  stroke: axisStroke,
  grid,
  values: (_u, splits) => splits.map((s) => (bucket === 'hour' ? new Date(s * 1000).toLocaleTimeString(undefined, { hour: '2-digit' }) : day(s * 1000))),
});

function TimeCharts({ report }: { report: MetricsReport }) {
  const bucket = report.query.bucket;
  const { timing, volume } = useMemo(() => {
    const xs = report.series.map((s) => Date.parse(s.start) / 1000);
    const pick = (f: (s: MetricsReport['series'][number]) => number | null) => report.series.map((s) => f(s) ?? null);
    // Bars are centred on their bucket's start: pad the x range by half a bucket on each side.
    const half = xs.length > 1 ? (xs[1] - xs[0]) / 2 : 43_200;
    const xRange = (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => [min - half, max + half];
    const fmt = (_u: uPlot, v: number | null) => duration(v);
    const timing = {
      data: [
        xs,
        pick((s) => s.figures.firstResponseSeconds.median),
        pick((s) => s.figures.firstResponseSeconds.p90),
        pick((s) => s.figures.resolutionSeconds.median),
        pick((s) => s.figures.resolutionSeconds.p90),
      ] as uPlot.AlignedData,
      options: {
        height: 240,
        // First response (minutes) on the left axis, resolution (hours) on the right: each readable.
        scales: { x: { time: true }, frt: { range: zeroTo }, res: { range: zeroTo } },
        series: [
          {},
          { label: 'FRT median', scale: 'frt', stroke: COLORS.frt, width: 2, value: fmt, spanGaps: true },
          { label: 'FRT p90', scale: 'frt', stroke: COLORS.frtP90, width: 2, dash: [6, 4], value: fmt, spanGaps: true },
          { label: 'Resolution median', scale: 'res', stroke: COLORS.res, width: 2, value: fmt, spanGaps: true },
          { label: 'Resolution p90', scale: 'res', stroke: COLORS.resP90, width: 2, dash: [6, 4], value: fmt, spanGaps: true },
        ],
        axes: [
          timeAxis(bucket),
          { scale: 'frt', label: 'first response', stroke: COLORS.frt, grid, incrs: DURATION_INCRS, values: durationValues, size: 56 },
          { scale: 'res', label: 'resolution', side: 1, stroke: COLORS.res, grid: { show: false }, incrs: DURATION_INCRS, values: durationValues, size: 56 },
        ],
      } as Omit<uPlot.Options, 'width'>,
    };
    const volume = {
      data: [xs, report.series.map((s) => s.figures.conversations), report.series.map((s) => s.figures.resolved)] as uPlot.AlignedData,
      options: {
        height: 240,
        scales: { x: { time: true, range: xRange }, y: { range: countRange } },
        series: [
          {},
          { label: 'Conversations', stroke: COLORS.conv, fill: 'rgba(99,102,241,0.35)', paths: bars, points: { show: false } },
          { label: 'Resolved', stroke: COLORS.resolved, width: 2 },
        ],
        axes: [timeAxis(bucket), { stroke: axisStroke, grid }],
      } as Omit<uPlot.Options, 'width'>,
    };
    return { timing, volume };
  }, [report]);
  return html`
    <${Chart} test="chart-times" title="First response and resolution time (median and p90)" options=${timing.options} data=${timing.data} />
    <${Chart} test="chart-volume" title=${`Conversations per ${bucket}`} options=${volume.options} data=${volume.data} />
  `;
}

const DIST_LABELS = { firstResponseSeconds: 'First response', resolutionSeconds: 'Resolution', handleSeconds: 'Handle time' } as const;

function DistributionChart({ report, which, onWhich }: { report: MetricsReport; which: keyof typeof DIST_LABELS; onWhich: (w: keyof typeof DIST_LABELS) => void }) {
  const hist = report.totals[which].histogram;
  const { options, data } = useMemo(() => {
    const labels = hist.map((b, i) => (b.le === null ? `> ${durationTick(hist[i - 1]?.le ?? 0)}` : `≤ ${durationTick(b.le)}`));
    return {
      data: [hist.map((_, i) => i), hist.map((b) => b.count)] as uPlot.AlignedData,
      options: {
        height: 240,
        scales: { x: { time: false, range: (_u: uPlot, min: number, max: number) => [min - 0.6, max + 0.6] as uPlot.Range.MinMax }, y: { range: countRange } },
        series: [
          { label: 'Bucket', value: (_u: uPlot, v: number | null) => (v === null ? '' : (labels[v] ?? '')) },
          { label: 'Conversations', stroke: COLORS.dist, fill: 'rgba(245,158,11,0.45)', paths: bars, points: { show: false } },
        ],
        axes: [
          { stroke: axisStroke, grid: { show: false }, splits: () => hist.map((_, i) => i), values: (_u: uPlot, splits: number[]) => splits.map((i) => labels[i] ?? '') },
          { stroke: axisStroke, grid },
        ],
      } as Omit<uPlot.Options, 'width'>,
    };
  }, [hist]);
  return html`<div class="dist">
    <div class="dist-pick" role="group" aria-label="Distribution">
      ${(Object.keys(DIST_LABELS) as (keyof typeof DIST_LABELS)[]).map(
        (k) => html`<button key=${k} type="button" class=${k === which ? 'tab active' : 'tab'} aria-pressed=${k === which} onClick=${() => onWhich(k)} data-test=${`dist-${k}`}>${DIST_LABELS[k]}</button>`,
      )}
    </div>
    <${Chart} test="chart-distribution" title=${`${DIST_LABELS[which]}: distribution (conversations per time bucket)`} options=${options} data=${data} />
  </div>`;
}
