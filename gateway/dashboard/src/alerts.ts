// Open alerts as GET /v1/alerts describes them (docs/alerts.md), the order
// the dashboard lists them in, and where each links: its subject's read
// model and its causing events in the log.

export interface OpenAlert {
  alert_id: string;
  rule_id: string;
  rule_name: string;
  severity: string; // "info" | "warning" | "critical"
  subject: { kind: string; id: string };
  level_pct?: number;
  cause_positions: number[];
  raised_position: number;
  raised_time_us: number;
}

const severityRank: Record<string, number> = { critical: 0, warning: 1, info: 2 };

// Critical first, then warning, then info; the newest first within each.
export function sortAlerts(alerts: OpenAlert[]): OpenAlert[] {
  return [...alerts].sort((a, b) =>
    (severityRank[a.severity] ?? 3) - (severityRank[b.severity] ?? 3) ||
    b.raised_position - a.raised_position);
}

export function openCritical(alerts: OpenAlert[]): number {
  return alerts.filter((a) => a.severity === 'critical').length;
}

// The subject's read model (agents and tasks have one); null otherwise.
export function subjectLink(alert: OpenAlert): string | null {
  const id = encodeURIComponent(alert.subject.id);
  if (alert.subject.kind === 'agent') return `/v1/agents/${id}`;
  if (alert.subject.kind === 'task') return `/v1/tasks/${id}`;
  return null;
}

// One causing event, as the log holds it.
export function causeLink(position: number): string {
  return `/v1/all?from=${position}&limit=1`;
}
