import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { AgentLabelView } from '../src/components/AgentName';
import { emptyFoldState, foldEvents } from '../src/fold';
import { agentLabel, agentWithId, eventAgents } from '../src/names';
import { ev, story } from './helpers';

const agents = foldEvents(emptyFoldState(), story(), { agents: 0, tasks: 0, metrics: 0 }).agents;

describe('agent names', () => {
  it('shows the name, with the id for hover', () => {
    expect(agentLabel('w1', agents)).toEqual({ text: 'W1', title: 'w1', named: true });
    expect(agentWithId('m1', agents)).toBe('M1 (m1)');
  });

  it('falls back to the id when no name is known', () => {
    expect(agentLabel('ghost', agents)).toEqual({ text: 'ghost', title: 'ghost', named: false });
    expect(agentWithId('ghost', agents)).toBe('ghost');
    // An empty name (AgentRegistered without one) is no name.
    const unnamed = { x: { ...agents.w1, agent_id: 'x', name: '' } };
    expect(agentLabel('x', unnamed).text).toBe('x');
  });

  it('takes the first model that names the agent (the view shown, then live)', () => {
    const past = { w1: { ...agents.w1, name: null } }; // before it registered a name
    expect(agentLabel('w1', past, agents).text).toBe('W1');
    expect(agentLabel('w1', { w1: { ...agents.w1, name: 'Then' } }, agents).text).toBe('Then');
    expect(agentLabel('w1', undefined, agents).text).toBe('W1');
  });

  it('renders as a span with the id in its title', () => {
    expect(renderToStaticMarkup(createElement(AgentLabelView, { label: agentLabel('w1', agents), missing: '?' })))
      .toBe('<span class="agent-name" title="w1" data-agent-id="w1">W1</span>');
    expect(renderToStaticMarkup(createElement(AgentLabelView, { label: null, missing: '—' })))
      .toBe('<span class="agent-name none">—</span>');
  });

  it('lists the agents an event is about, from → to', () => {
    const [registered, , , created, assigned] = story();
    expect(eventAgents(registered)).toEqual(['m1']);
    expect(eventAgents(created)).toEqual(['m1']);
    expect(eventAgents(assigned)).toEqual(['m1', 'w1']);
    expect(eventAgents(ev(1, 'MessageSent', { from_agent: 'a', to_agent: 'b', kind: 'x' }))).toEqual(['a', 'b']);
    expect(eventAgents(ev(1, 'SpanRecorded', { agent_id: 'w', caller_agent_id: 'm' }))).toEqual(['m', 'w']);
    expect(eventAgents(ev(1, 'CustomThing', { anything: 1 }))).toEqual([]);
    expect(eventAgents({ ...ev(1, 'Blob', {}), data: undefined })).toEqual([]);
  });
});
