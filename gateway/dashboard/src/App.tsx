import { AgentsView } from './components/AgentsView';
import { Charts } from './components/Charts';
import { DelegationGraph } from './components/DelegationGraph';
import { StatusBar } from './components/StatusBar';
import { TaskBoard } from './components/TaskBoard';
import { Timeline } from './components/Timeline';
import { WebhooksView } from './components/WebhooksView';

export function App() {
  return (
    <>
      <StatusBar />
      <main className="grid">
        <AgentsView />
        <DelegationGraph />
        <TaskBoard />
        <Charts />
        <Timeline />
        <WebhooksView />
      </main>
    </>
  );
}
