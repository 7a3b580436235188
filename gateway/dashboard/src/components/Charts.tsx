import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { store } from '../store';
import type { DashboardState } from '../store/store';
import { RATE_SECONDS } from '../store/store';

const PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#14b8a6', '#ec4899', '#84cc16'];

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
          // One point (the first minute) would make a zero-width range:
          // pad it to a minute either side.
          scales: { x: { time: true, range: (_u, min, max) => (min === max ? [min - 60, max + 60] : [min, max]) } },
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
          axes: [{ stroke: '#9aa4b2', grid: { stroke: '#2a3140' } }, { stroke: '#9aa4b2', grid: { stroke: '#2a3140' }, size: 55 }],
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

export function eventsPerSecond(s: DashboardState): Series {
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

function perModel(s: DashboardState, value: (p: DashboardState['usage'][string]) => number): Series {
  const models = [...new Set(Object.values(s.usage).map((u) => u.model))].sort();
  const minutes = [...new Set(Object.values(s.usage).map((u) => u.bucket_time_us))].sort((a, b) => a - b);
  const index = new Map(minutes.map((m, i) => [m, i]));
  const ys = models.map(() => minutes.map(() => 0 as number | null));
  for (const u of Object.values(s.usage)) ys[models.indexOf(u.model)][index.get(u.bucket_time_us)!] = value(u);
  return { labels: models, data: [minutes.map((m) => m / 1e6), ...ys] as uPlot.AlignedData };
}

const tokensPerMinute = (s: DashboardState) => perModel(s, (u) => u.input_tokens + u.output_tokens);
const costPerMinute = (s: DashboardState) => perModel(s, (u) => Math.round(u.cost_usd * 10000) / 10000);

export function completionTimes(s: DashboardState): Series {
  const done = Object.values(s.tasks)
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
