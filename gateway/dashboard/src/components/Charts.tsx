import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { store } from '../store';
import type { DashboardState } from '../store/store';
import { RATE_SECONDS, shown } from '../store/store';

const PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#14b8a6', '#ec4899', '#84cc16'];

// 1.2k, 3.4M: axis labels that fit.
function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(3)}`;
}

interface Series {
  labels: string[]; // one per y series
  data: uPlot.AlignedData;
}

// A uPlot chart fed straight from the store: a transient subscription
// recomputes its data at most once per animation frame and calls setData,
// so the chart never re-renders React. The chart is rebuilt only when its
// series change (a new model appears).
function Chart({ title, derive, points = false, testId }: {
  title: string; derive: (s: DashboardState) => Series; points?: boolean; testId: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current!;
    let plot: uPlot | null = null;
    let labels = '';
    let pending = false;
    const draw = () => {
      pending = false;
      const s = derive(store.getState());
      const key = s.labels.join('|');
      if (!plot || key !== labels) {
        plot?.destroy();
        labels = key;
        plot = new uPlot({
          width: Math.max(200, el.clientWidth),
          height: 150,
          legend: { show: true },
          scales: { x: { time: true } },
          series: [
            {},
            ...s.labels.map((label, i) => ({
              label,
              stroke: PALETTE[i % PALETTE.length],
              width: 1.5,
              ...(points
                ? { paths: () => null, points: { show: true, size: 4 } }
                // Per-minute series have few points: show them.
                : { points: { show: (s.data[0]?.length ?? 0) < 90, size: 5 } }),
            })),
          ],
          axes: [{ stroke: '#9aa4b2', grid: { stroke: '#2a3140' } }, { stroke: '#9aa4b2', grid: { stroke: '#2a3140' }, size: 55, values: (_u, vals) => vals.map(compact) }],
        }, s.data, el);
      } else {
        plot.setData(s.data);
      }
    };
    draw();
    const unsubscribe = store.subscribe(() => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(draw);
    });
    const resize = () => plot?.setSize({ width: Math.max(200, el.clientWidth), height: 150 });
    window.addEventListener('resize', resize);
    return () => {
      unsubscribe();
      window.removeEventListener('resize', resize);
      plot?.destroy();
    };
  }, [derive, points]);
  return (
    <div className="chart" data-testid={testId}>
      <h3>{title}</h3>
      <div ref={box} />
    </div>
  );
}

export function eventsPerSecond(state: DashboardState): Series {
  const s = shown(state);
  const seconds = Object.keys(s.eventRate).map(Number);
  const newest = seconds.length ? Math.max(...seconds) : Math.floor(Date.now() / 1000);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let t = newest - Math.min(RATE_SECONDS, 120); t <= newest; t++) {
    xs.push(t);
    ys.push(s.eventRate[t] ?? 0);
  }
  return { labels: ['events/s'], data: [xs, ys] };
}

const MINUTE_US = 60_000_000;
const MINUTES_SHOWN = 60;

// One series per model over consecutive minutes (empty minutes are 0), at
// least the last two, at most the last hour.
function perModel(state: DashboardState, value: (p: DashboardState['usage'][string]) => number): Series {
  const points = Object.values(shown(state).usage);
  const models = [...new Set(points.map((u) => u.model))].sort();
  const newest = points.length
    ? Math.max(...points.map((u) => u.bucket_time_us))
    : Math.floor(Date.now() / 60_000) * MINUTE_US;
  const oldest = Math.max(
    newest - (MINUTES_SHOWN - 1) * MINUTE_US,
    Math.min(newest - MINUTE_US, ...points.map((u) => u.bucket_time_us)),
  );
  const minutes: number[] = [];
  for (let m = oldest; m <= newest; m += MINUTE_US) minutes.push(m);
  const ys = models.map(() => minutes.map(() => 0));
  for (const u of points) {
    const i = (u.bucket_time_us - oldest) / MINUTE_US;
    if (i >= 0 && i < minutes.length) ys[models.indexOf(u.model)][i] = value(u);
  }
  return { labels: models, data: [minutes.map((m) => m / 1e6), ...ys] as uPlot.AlignedData };
}

const tokensPerMinute = (s: DashboardState) => perModel(s, (u) => u.input_tokens + u.output_tokens);
const costPerMinute = (s: DashboardState) => perModel(s, (u) => Math.round(u.cost_usd * 10000) / 10000);

export function completionTimes(state: DashboardState): Series {
  const done = Object.values(shown(state).tasks)
    .filter((t) => t.status === 'completed' && t.finished_time_us && t.created_time_us)
    .sort((a, b) => a.finished_time_us! - b.finished_time_us!);
  return {
    labels: ['seconds from created to completed'],
    data: [done.map((t) => t.finished_time_us! / 1e6), done.map((t) => (t.finished_time_us! - t.created_time_us!) / 1e6)],
  };
}

export function Charts() {
  return (
    <section className="panel charts">
      <h2>Charts</h2>
      <div className="chart-grid">
        <Chart title="events / s" derive={eventsPerSecond} testId="chart-rate" />
        <Chart title="tokens / min by model" derive={tokensPerMinute} testId="chart-tokens" />
        <Chart title="cost (USD) / min by model" derive={costPerMinute} testId="chart-cost" />
        <Chart title="task completion time (s)" derive={completionTimes} points testId="chart-completion" />
      </div>
    </section>
  );
}
