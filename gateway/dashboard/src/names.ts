// Agents by name: wherever the dashboard shows an agent, it shows the name
// its AgentRegistered gave it (or, for traced agents, gen_ai.agent.name),
// with the id on hover; an agent with no known name shows its id. The one
// place that decides what an agent is called (components/AgentName.tsx
// renders it).

import type { AgentRow, RecordedEvent } from './types';

export interface AgentLabel {
  text: string; // the name, or the id when no name is known
  title: string; // the id, for hover
  named: boolean;
}

// `id`'s label from the first of `models` that names it (the view shown,
// then the live model: names rarely change, and a past position may
// predate the registration the live model has seen).
export function agentLabel(id: string, ...models: Array<Record<string, AgentRow> | undefined>): AgentLabel {
  for (const agents of models) {
    const name = agents?.[id]?.name;
    if (name) return { text: name, title: id, named: true };
  }
  return { text: id, title: id, named: false };
}

// For plain text (SVG titles, hover lines): "name (id)", or the id alone.
export function agentWithId(id: string, ...models: Array<Record<string, AgentRow> | undefined>): string {
  const label = agentLabel(id, ...models);
  return label.named ? `${label.text} (${id})` : id;
}

// The agents an event is about, in the order the timeline shows them
// (from → to): the manager, sender or caller first, then the agent, the
// worker or the receiver. Empty for events about no agent.
export function eventAgents(e: RecordedEvent): string[] {
  const d = e.data;
  if (!d || typeof d !== 'object') return [];
  const out: string[] = [];
  for (const k of ['manager_id', 'from_agent', 'caller_agent_id', 'agent_id', 'worker_id', 'to_agent']) {
    const v = d[k];
    if (typeof v === 'string' && v !== '' && !out.includes(v)) out.push(v);
  }
  return out;
}
