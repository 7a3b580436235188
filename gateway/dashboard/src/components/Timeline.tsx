import { useEffect, useMemo, useRef, useState } from 'react';
import { store, useDashboard } from '../store';
import { shown } from '../store/store';
import { time } from '../format';
import type { RecordedEvent } from '../types';
import { eventAgents } from '../names';
import { AgentName } from './AgentName';

// The agents an event is about, by name (from → to).
function Agents({ e }: { e: RecordedEvent }) {
  const ids = eventAgents(e);
  return <>{ids.map((id, i) => <span key={id}>{i > 0 ? ' → ' : ''}<AgentName id={id} /></span>)}</>;
}

const ROW_HEIGHT = 22;
const OVERSCAN = 10;

// Newest first, filtered by stream prefix and type, only the visible rows
// rendered. The event list changes every animation frame under load, so it
// is read through a transient subscription and re-rendered at most once
// per frame, not through a selector of its own. In the past it lists the
// events up to the position shown (GET /v1/all), not the live ones.
export function Timeline() {
  const filter = useDashboard((s) => s.timelineFilter);
  const selected = useDashboard((s) => s.selectedEvent);
  const pastPosition = useDashboard((s) => s.travel.view?.position ?? null);
  const pastError = useDashboard((s) => s.travel.view?.eventsError ?? null);
  const [events, setEvents] = useState<RecordedEvent[]>(() => shown(store.getState()).events);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let pending = false;
    return store.subscribe((s, prev) => {
      if (shown(s).events === shown(prev).events || pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        setEvents(shown(store.getState()).events);
      });
    });
  }, []);
  useEffect(() => {
    if (box.current) setHeight(box.current.clientHeight);
  }, []);

  const rows = useMemo(() => {
    const out: RecordedEvent[] = [];
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i];
      if (filter.stream && !e.stream.startsWith(filter.stream)) continue;
      if (filter.type && e.type !== filter.type) continue;
      out.push(e);
    }
    return out;
  }, [events, filter]);
  const types = useMemo(() => [...new Set(events.map((e) => e.type))].sort(), [events]);

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const set = store.getState().setTimelineFilter;
  return (
    <section className="panel timeline">
      <h2>
        Events <small data-testid="timeline-count">{rows.length}</small>
        {pastPosition !== null && <small>up to position {pastPosition}</small>}
        {pastError && <small className="bad">{pastError}</small>}
        <input placeholder="stream prefix" value={filter.stream} aria-label="stream prefix"
          onChange={(e) => set({ stream: e.target.value })} />
        <select aria-label="type" value={filter.type} onChange={(e) => set({ type: e.target.value })}>
          <option value="">all types</option>
          {types.map((t) => <option key={t}>{t}</option>)}
        </select>
      </h2>
      <div className="timeline-body">
        <div className="rows" ref={box} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)} data-testid="timeline">
          <div style={{ height: rows.length * ROW_HEIGHT, position: 'relative' }}>
            {rows.slice(first, last).map((e, i) => (
              <div key={e.position} className={`row ${selected?.position === e.position ? 'selected' : ''}`}
                style={{ top: (first + i) * ROW_HEIGHT, height: ROW_HEIGHT }}
                // On press, not click: under load the rows move between
                // press and release, and a click would land on no row.
                onMouseDown={() => store.getState().selectEvent(e)} data-testid="event-row">
                <span className="pos">{e.position}</span>
                <span className="type">{e.type}</span>
                <span className="stream">{e.stream}</span>
                <span className="agents"><Agents e={e} /></span>
                <span className="when">{time(e.recorded_time_us).slice(11)}</span>
              </div>
            ))}
          </div>
        </div>
        <aside className="detail" data-testid="event-detail">
          {selected ? (
            <>
              <dl>
                <dt>position</dt><dd>{selected.position}</dd>
                <dt>stream</dt><dd>{selected.stream} @ {selected.revision}</dd>
                <dt>type</dt><dd>{selected.type}</dd>
                {eventAgents(selected).length > 0 && <><dt>agents</dt><dd><Agents e={selected} /></dd></>}
                <dt>event id</dt><dd className="mono">{selected.event_id}</dd>
                <dt>recorded</dt><dd>{time(selected.recorded_time_us)}</dd>
                <dt>hash</dt><dd className="mono hash">{selected.hash}</dd>
              </dl>
              <pre>{JSON.stringify({ data: selected.data ?? selected.data_base64, metadata: selected.metadata }, null, 2)}</pre>
            </>
          ) : <p className="sub">click an event</p>}
        </aside>
      </div>
    </section>
  );
}
