import { describe, expect, it } from 'vitest';
import { type Webhook, webhookHealth } from '../src/webhooks';

const base: Webhook = {
  id: 'wh_1', url: 'https://example.com/hook', status: 'active',
  dead_letters: 0, pending_redeliveries: 0,
  delivery: {
    checkpoint: 10, head_position: 10, circuit: 'closed', consecutive_failures: 0,
    last_status: 200, last_error: '', last_success_time_us: 1, next_attempt_time_us: 0,
    delivered: 10, failed: 0,
  },
};

describe('webhookHealth', () => {
  it('orders the states worst first', () => {
    expect(webhookHealth(base)).toBe('healthy');
    expect(webhookHealth({ ...base, delivery: { ...base.delivery!, head_position: 500 } })).toBe('behind');
    expect(webhookHealth({ ...base, delivery: { ...base.delivery!, consecutive_failures: 2 } })).toBe('failing');
    expect(webhookHealth({ ...base, delivery: { ...base.delivery!, circuit: 'open', consecutive_failures: 9 } })).toBe('circuit open');
    expect(webhookHealth({ ...base, status: 'disabled', disabled_reason: '410 Gone' })).toBe('disabled');
  });
  it('treats an endpoint without delivery state as healthy', () => {
    expect(webhookHealth({ ...base, delivery: undefined })).toBe('healthy');
  });
});
