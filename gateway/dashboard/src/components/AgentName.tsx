import { useDashboard } from '../store';
import { shown } from '../store/store';
import { agentLabel, type AgentLabel } from '../names';

// An agent as the dashboard shows it everywhere: its name, the id on hover
// (names.ts). No id (null or empty): `missing` in its place. `alias`: a
// name known from elsewhere (a span's gen_ai.agent.name), used while the
// agents model has none. Re-renders only when the name changes.
export function AgentName({ id, missing = '?', alias = null }: { id: string | null; missing?: string; alias?: string | null }) {
  const text = useDashboard((s) => {
    if (!id) return missing;
    const label = agentLabel(id, shown(s).agents, s.agents);
    return label.named || !alias ? label.text : alias;
  });
  return <AgentLabelView label={id ? { text, title: id, named: text !== id } : null} missing={missing} />;
}

export function AgentLabelView({ label, missing }: { label: AgentLabel | null; missing: string }) {
  if (!label) return <span className="agent-name none">{missing}</span>;
  return <span className="agent-name" title={label.title} data-agent-id={label.title}>{label.text}</span>;
}
