import { useEffect, useState } from 'react';
import { useDashboard } from '../store';

// GETs an admin resource every 5 s with the dashboard's token: the last
// body, or a note saying why there is none (`forbidden` on 401/403, `off`
// on 404, the status or the error otherwise; 'loading' at first).
export function useAdminPoll<T>(path: string, forbidden: string, off: string): { body: T | null; note: string } {
  const token = useDashboard((s) => s.token);
  const [body, setBody] = useState<T | null>(null);
  const [note, setNote] = useState<string>('loading');

  useEffect(() => {
    let stopped = false;
    const poll = async () => {
      try {
        const headers: Record<string, string> = { Accept: 'application/json' };
        if (token) headers.Authorization = `Bearer ${token}`;
        const response = await fetch(path, { headers });
        if (stopped) return;
        if (response.status === 401 || response.status === 403) {
          setNote(forbidden);
        } else if (response.status === 404) {
          setNote(off);
        } else if (!response.ok) {
          setNote(`GET ${path}: ${response.status}`);
        } else {
          setBody((await response.json()) as T);
          setNote('');
        }
      } catch (e) {
        if (!stopped) setNote(`GET ${path}: ${String(e)}`);
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), 5000);
    return () => { stopped = true; clearInterval(timer); };
  }, [token, path, forbidden, off]);

  return { body, note };
}
