import * as api from '../api.js';
import { h, fill, badge, when, table, link, toast, errorBox, json } from '../dom.js';

export async function render(main, { params, variant }) {
  if (variant === 'agent') return renderAgent(main, params[0]);
  const page = await api.get(api.path('/v1/agents', { limit: 200 }));
  fill(main,
    h('h1', {}, 'Agents'),
    table('Agents', [
      ['Name', (a) => link(`#/agents/${a.id}`, a.name)],
      ['Status', (a) => badge(a.status)],
      ['Online', (a) => (a.online ? 'online' : 'offline')],
      ['Capabilities', (a) => (a.capabilities || []).join(', ') || '—'],
      ['Tags', (a) => (a.tags || []).join(', ') || '—'],
      ['Last heartbeat', (a) => when(a.last_heartbeat_at)],
    ], page.items, 'No agents yet: `skein agents register NAME --capability C` adds one.'));
}

async function renderAgent(main, id) {
  const [agent, tasks] = await Promise.all([
    api.get(`/v1/agents/${encodeURIComponent(id)}`),
    api.get(api.path('/v1/tasks', { agent: id, limit: 50 })),
  ]);
  const message = h('div', { 'aria-live': 'polite' });
  const paused = agent.status === 'paused';
  const setStatus = async (status) => {
    try {
      await api.patch(`/v1/agents/${encodeURIComponent(id)}`, { status });
      toast(`${agent.name} is ${status}.`);
      renderAgent(main, id);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  };
  fill(main,
    h('p', {}, link('#/agents', '← Agents')),
    h('h1', {}, agent.name, ' ', badge(agent.status)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Id'), h('dd', {}, h('code', {}, agent.id)),
      h('dt', {}, 'Kind'), h('dd', {}, agent.kind || '—'),
      h('dt', {}, 'Online'), h('dd', {}, agent.online ? 'online' : 'offline'),
      h('dt', {}, 'Capabilities'), h('dd', {}, (agent.capabilities || []).join(', ') || '—'),
      h('dt', {}, 'Tags'), h('dd', {}, (agent.tags || []).join(', ') || '—'),
      h('dt', {}, 'Last heartbeat'), h('dd', {}, when(agent.last_heartbeat_at)),
      h('dt', {}, 'Registered'), h('dd', {}, when(agent.created_at))),
    h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => setStatus(paused ? 'active' : 'paused') }, paused ? 'Resume' : 'Pause'),
      h('button', { type: 'button', class: 'danger', onclick: async () => {
        if (!confirm(`Delete ${agent.name}? Its credentials stop working at once.`)) return;
        try {
          await api.del(`/v1/agents/${encodeURIComponent(id)}`);
          toast(`${agent.name} was deleted.`);
          location.hash = '#/agents';
        } catch (error) {
          message.replaceChildren(errorBox(error));
        }
      } }, 'Delete')),
    message,
    h('h2', {}, 'Configuration'),
    json(agent.config, 'Agent configuration'),
    h('h2', {}, 'Tasks'),
    table('The agent’s tasks', [
      ['Task', (t) => h('code', {}, t.id)],
      ['Capability', (t) => t.capability || '—'],
      ['Status', (t) => badge(t.status)],
      ['Created', (t) => when(t.created_at)],
    ], tasks.items, 'No tasks for this agent.'));
}
