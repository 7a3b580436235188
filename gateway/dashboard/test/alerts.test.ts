import { describe, expect, it } from 'vitest';
import { type OpenAlert, causeLink, openCritical, sortAlerts, subjectLink } from '../src/alerts';

const alert = (id: string, severity: string, raised: number, kind = 'agent'): OpenAlert => ({
  alert_id: id, rule_id: 'ar_1', rule_name: 'r', severity,
  subject: { kind, id: 'a/1' }, cause_positions: [raised - 1],
  raised_position: raised, raised_time_us: 1,
});

describe('alerts', () => {
  it('lists critical first, then the newest', () => {
    const sorted = sortAlerts([alert('i', 'info', 9), alert('w', 'warning', 5),
      alert('c1', 'critical', 3), alert('c2', 'critical', 7)]);
    expect(sorted.map((a) => a.alert_id)).toEqual(['c2', 'c1', 'w', 'i']);
  });
  it('counts the open critical alerts for the banner', () => {
    expect(openCritical([alert('c', 'critical', 1), alert('w', 'warning', 2)])).toBe(1);
    expect(openCritical([])).toBe(0);
  });
  it('links to the subject and to each causing event', () => {
    expect(subjectLink(alert('x', 'info', 1))).toBe('/v1/agents/a%2F1');
    expect(subjectLink(alert('x', 'info', 1, 'task'))).toBe('/v1/tasks/a%2F1');
    expect(subjectLink(alert('x', 'info', 1, 'total'))).toBeNull();
    expect(causeLink(42)).toBe('/v1/all?from=42&limit=1');
  });
});
