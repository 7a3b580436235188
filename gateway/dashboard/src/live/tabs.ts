// TabSync: tabs of one browser share one live connection. The tab holding
// the Web Lock `vigil-live-leader` is the leader: it opens the socket and
// broadcasts the frames it applied, and its connection state, on the
// BroadcastChannel `vigil-live`; the others (followers) apply those frames
// to their own store through the same Ingest (same fold, same
// de-duplication, gaps filled from REST). When the leader tab closes, its
// lock is released and another tab takes over, resuming from its own last
// position. Without Web Locks or BroadcastChannel each tab is on its own
// ("solo") with its own socket.

import type { Connection } from '../store/store';
import type { LiveFrame } from '../types';

export const CHANNEL_NAME = 'vigil-live';
export const LOCK_NAME = 'vigil-live-leader';

export type TabMessage =
  | { t: 'frames'; frames: LiveFrame[] }
  | { t: 'connection'; connection: Connection };

export interface ChannelLike {
  postMessage(message: TabMessage): void;
  onmessage: ((ev: { data: TabMessage }) => void) | null;
  close(): void;
}

export interface LocksLike {
  request(name: string, callback: () => Promise<void>): Promise<unknown>;
}

export interface TabSyncOptions {
  channel: ChannelLike | null;
  locks: LocksLike | null;
  // This tab became the one that holds the socket (leader or solo).
  onLeader: (role: 'leader' | 'solo') => void;
  // Followers: frames and connection state from the leader.
  onFrames: (frames: LiveFrame[]) => void;
  onConnection: (connection: Connection) => void;
}

export class TabSync {
  role: 'leader' | 'follower' | 'solo' = 'follower';
  private release: (() => void) | null = null;

  constructor(private readonly o: TabSyncOptions) {}

  start() {
    if (!this.o.channel || !this.o.locks) {
      this.role = 'solo';
      this.o.onLeader('solo');
      return;
    }
    this.o.channel.onmessage = (ev) => {
      if (this.role !== 'follower') return;
      const m = ev.data;
      if (m.t === 'frames') this.o.onFrames(m.frames);
      else if (m.t === 'connection') this.o.onConnection({ ...m.connection, role: 'follower' });
    };
    void this.o.locks.request(
      LOCK_NAME,
      () =>
        new Promise<void>((resolve) => {
          this.release = resolve;
          this.role = 'leader';
          this.o.onLeader('leader');
        }),
    );
  }

  // Leader only: tells the followers.
  broadcastFrames(frames: LiveFrame[]) {
    if (this.role === 'leader') this.o.channel?.postMessage({ t: 'frames', frames });
  }

  broadcastConnection(connection: Connection) {
    if (this.role === 'leader') this.o.channel?.postMessage({ t: 'connection', connection });
  }

  stop() {
    this.release?.();
    this.release = null;
    if (this.o.channel) this.o.channel.onmessage = null;
    this.o.channel?.close();
  }
}
