export function age(timeUs: number | null, nowMs: number): string {
  if (!timeUs) return '—';
  const s = Math.max(0, nowMs / 1000 - timeUs / 1e6);
  if (s < 60) return `${s.toFixed(0)} s`;
  if (s < 3600) return `${(s / 60).toFixed(0)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(0)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KiB`;
  return `${n} B`;
}

export function time(timeUs: number): string {
  return new Date(timeUs / 1000).toISOString().replace('T', ' ').replace('Z', '');
}

export function ms(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '—';
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${value.toFixed(0)} ms`;
}
