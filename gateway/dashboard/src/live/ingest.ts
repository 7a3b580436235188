// Ingest: the one way frames reach the store. Frames from the socket, from
// the leader tab or from polling are buffered and applied once per
// animation frame (one store update, one render, however many events came
// in). With `fetchRange`, a gap in positions (a follower tab that joined
// after the leader broadcast some events, say) is filled from GET /v1/all
// before the frames after it are applied: the dashboard reads the live
// feed unfiltered, so positions arrive contiguous unless a checkpoint says
// otherwise.

import type { DashboardStore } from '../store/store';
import type { LiveFrame, RecordedEvent } from '../types';

// Frames held while the snapshot loads or a gap is filled. Past it the
// buffer is dropped; the next frame then shows a gap, filled from REST.
export const MAX_BUFFERED_FRAMES = 50_000;
const FILL_PAGE = 1000;

export interface IngestOptions {
  // Events with from <= position <= to, in order (GET /v1/all).
  fetchRange?: (from: number, to: number) => Promise<RecordedEvent[]>;
  // Runs `fn` soon (requestAnimationFrame in a visible page).
  schedule?: (fn: () => void) => void;
  // Frames as applied, after de-duplication and gap filling (the leader
  // broadcasts them to the other tabs).
  onApplied?: (frames: LiveFrame[]) => void;
  retryMs?: number;
}

export function defaultSchedule(fn: () => void) {
  const visible = typeof document !== 'undefined' && !document.hidden;
  if (visible && typeof requestAnimationFrame === 'function') requestAnimationFrame(fn);
  else setTimeout(fn, 100); // background tabs get no animation frames
}

export class Ingest {
  private buffer: LiveFrame[] = [];
  private scheduled = false;
  private busy = false; // filling a gap
  private ready = false;

  constructor(
    private readonly store: DashboardStore,
    private readonly options: IngestOptions = {},
  ) {}

  // Frames are held until the snapshot is in the store.
  setReady() {
    this.ready = true;
    this.kick();
  }

  push(frames: LiveFrame[]) {
    if (frames.length === 0) return;
    if (this.buffer.length + frames.length > MAX_BUFFERED_FRAMES) this.buffer = [];
    for (const f of frames) this.buffer.push(f);
    this.kick();
  }

  private kick() {
    if (this.scheduled || !this.ready || this.busy) return;
    this.scheduled = true;
    (this.options.schedule ?? defaultSchedule)(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  // Applies the buffer; resolves once it is empty or waiting on a fill.
  async flush(): Promise<void> {
    if (!this.ready || this.busy) return;
    while (this.buffer.length > 0) {
      const frames = this.buffer;
      this.buffer = [];
      const gapAt = this.options.fetchRange ? this.findGap(frames) : -1;
      const head = gapAt < 0 ? frames : frames.slice(0, gapAt);
      this.apply(head);
      if (gapAt < 0) return;
      const rest = frames.slice(gapAt);
      const to = (rest[0] as { position: number }).position - 1;
      this.busy = true;
      try {
        await this.fill(to);
      } catch {
        // The server is unreachable: keep the frames, try again later.
        this.buffer = rest.concat(this.buffer);
        this.busy = false;
        setTimeout(() => this.kick(), this.options.retryMs ?? 1000);
        return;
      }
      this.busy = false;
      this.buffer = rest.concat(this.buffer);
    }
  }

  private apply(frames: LiveFrame[]) {
    if (frames.length === 0) return;
    const before = this.store.getState().lastPosition;
    this.store.getState().applyFrames(frames);
    if (this.options.onApplied) {
      // Forward only what moved this store on: other tabs drop the rest too.
      let last = before;
      const applied = frames.filter((f) => {
        if (f.position <= last) return false;
        last = f.position;
        return true;
      });
      if (applied.length > 0) this.options.onApplied(applied);
    }
  }

  // The index of the first event that does not follow the position before
  // it (after the store's lastPosition), or -1.
  private findGap(frames: LiveFrame[]): number {
    let last = this.store.getState().lastPosition;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i];
      if (f.kind === 'event' && f.position > last + 1) return i;
      last = Math.max(last, f.position);
    }
    return -1;
  }

  private async fill(to: number) {
    while (this.store.getState().lastPosition < to) {
      const from = this.store.getState().lastPosition + 1;
      const events = await this.options.fetchRange!(from, Math.min(to, from + FILL_PAGE - 1));
      const frames = events
        .filter((e) => e.position <= to)
        .map((e) => ({ kind: 'event', ...e }) as LiveFrame);
      // An empty page: the positions are not there (yet); say so by a
      // checkpoint rather than loop.
      if (frames.length === 0) frames.push({ kind: 'checkpoint', position: to });
      this.apply(frames);
    }
  }
}
