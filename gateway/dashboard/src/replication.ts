// The status bar's replication chip, from GET /v1/replication: the mode,
// the mirror's state and its lag, the way projections show theirs. Null
// (no chip) when replication is off or the server has no such route.

import type { ReplicationStatus } from './types';

export interface ReplicationChip {
  text: string;
  tone: '' | 'warn' | 'bad';
  title: string;
}

// Positions behind past which the chip turns red, as a projection's does.
export const REPLICATION_LAG_BAD = 1000;

export function replicationChip(status: ReplicationStatus | null): ReplicationChip | null {
  if (status === null || status.mode === 'off') return null;
  const state = status.state ?? 'unknown';
  const lag = status.lag_positions ?? 0;
  const seconds = status.lag_seconds ?? 0;
  const tone = state === 'stopped' || lag > REPLICATION_LAG_BAD ? 'bad' : state !== 'mirroring' ? 'warn' : '';
  const why = state === 'stopped' ? status.stop_reason : status.last_error;
  return {
    text: `replication ${status.mode}: ${state}, lag ${lag} pos / ${seconds.toFixed(1)} s`,
    tone,
    title: `stream ${status.stream ?? '?'}; mirrored ${status.mirrored_position ?? 0} of head ${status.head_position ?? 0}`
      + (why ? `; ${why}` : ''),
  };
}
