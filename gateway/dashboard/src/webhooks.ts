// Webhook endpoints as GET /v1/webhooks describes them (docs/webhooks.md),
// and the one-word health the dashboard shows for each.

export interface WebhookDelivery {
  checkpoint: number;
  head_position: number;
  circuit: string; // "closed" | "open" | "half_open"
  consecutive_failures: number;
  last_status: number;
  last_error: string;
  last_success_time_us: number;
  next_attempt_time_us: number;
  delivered: number;
  failed: number;
}

export interface Webhook {
  id: string;
  url: string;
  status: 'active' | 'disabled';
  disabled_reason?: string;
  dead_letters: number;
  pending_redeliveries: number;
  delivery?: WebhookDelivery;
}

export type WebhookHealth = 'healthy' | 'behind' | 'failing' | 'circuit open' | 'disabled';

// Worst first: disabled, an open circuit, failing now, behind the head.
export function webhookHealth(w: Webhook): WebhookHealth {
  if (w.status === 'disabled') return 'disabled';
  const d = w.delivery;
  if (!d) return 'healthy';
  if (d.circuit === 'open' || d.circuit === 'half_open') return 'circuit open';
  if (d.consecutive_failures > 0) return 'failing';
  if (d.head_position - d.checkpoint > 100) return 'behind';
  return 'healthy';
}
