import { AgentsView } from './components/AgentsView';
import { AlertsView } from './components/AlertsView';
import { Charts } from './components/Charts';
import { DelegationGraph } from './components/DelegationGraph';
import { DiffView } from './components/DiffView';
import { ErrorBoundary } from './components/ErrorBoundary';
import { PastBanner } from './components/PastBanner';
import { StatusBar } from './components/StatusBar';
import { TaskBoard } from './components/TaskBoard';
import { Timeline } from './components/Timeline';
import { TraceView } from './components/TraceView';
import { TravelBar } from './components/TravelBar';
import { WebhooksView } from './components/WebhooksView';
import type { TraceClient } from './live/traces';
import type { TravelClient } from './live/travel';
import { useDashboard } from './store';

export function App({ travel, traces }: { travel: TravelClient; traces: TraceClient }) {
  const mode = useDashboard((s) => s.travel.mode);
  // In the past before its first state arrives, the live views, dimmed.
  const waiting = useDashboard((s) => s.travel.mode === 'past' && s.travel.view === null);
  const diffOpen = useDashboard((s) => s.diff.open);
  return (
    <>
      <div className="top">
        <StatusBar />
        <TravelBar travel={travel} />
        <PastBanner travel={travel} />
      </div>
      <main className={`grid ${mode === 'past' ? 'past' : ''} ${waiting ? 'waiting' : ''}`}
        aria-busy={waiting} data-mode={mode}>
        {diffOpen && <ErrorBoundary name="Diff"><DiffView travel={travel} /></ErrorBoundary>}
        <ErrorBoundary name="Agents"><AgentsView traces={traces} /></ErrorBoundary>
        <ErrorBoundary name="Delegation"><DelegationGraph /></ErrorBoundary>
        <ErrorBoundary name="Tasks"><TaskBoard traces={traces} /></ErrorBoundary>
        <ErrorBoundary name="Trace"><TraceView traces={traces} /></ErrorBoundary>
        <ErrorBoundary name="Charts"><Charts /></ErrorBoundary>
        <ErrorBoundary name="Events"><Timeline /></ErrorBoundary>
        <ErrorBoundary name="Alerts"><AlertsView /></ErrorBoundary>
        <ErrorBoundary name="Webhooks"><WebhooksView /></ErrorBoundary>
      </main>
    </>
  );
}
