import * as api from '../api.js';
import { h, fill, when, table, link } from '../dom.js';

const LIMIT = 100;

function count(page) {
  return `${page.items.length}${page.next_cursor ? '+' : ''}`;
}

export async function render(main) {
  const [health, agents, workflows, running, failed, approvals] = await Promise.all([
    api.get('/v1/health').then(() => 'ok', () => 'unreachable'),
    api.get(api.path('/v1/agents', { limit: LIMIT })),
    api.get(api.path('/v1/workflows', { limit: LIMIT })),
    api.get(api.path('/v1/runs', { status: 'running', limit: LIMIT })),
    api.get(api.path('/v1/runs', { status: 'failed', limit: 5 })),
    api.get('/v1/approvals'),
  ]);
  const tile = (label, value, href) => h('a', { class: 'tile', href },
    h('span', { class: 'value' }, value), h('span', { class: 'label' }, label));
  fill(main,
    h('h1', {}, 'Overview'),
    h('p', {}, 'API health: ', h('span', { class: `badge ${health === 'ok' ? 'st-succeeded' : 'st-failed'}` }, health)),
    h('div', { class: 'tiles' },
      tile('agents', count(agents), '#/agents'),
      tile('workflows', count(workflows), '#/workflows'),
      tile('runs running', count(running), '#/runs?status=running'),
      tile('approvals waiting', String(approvals.length), '#/approvals')),
    h('section', { 'aria-labelledby': 'recent-failures' },
      h('h2', { id: 'recent-failures' }, 'Recent failures'),
      table('Recent failed runs', [
        ['Run', (r) => link(`#/runs/${r.id}`, r.id)],
        ['Workflow', (r) => r.workflow],
        ['Error', (r) => (r.error ? r.error.error : '—')],
        ['Started', (r) => when(r.started_at)],
      ], failed.items, 'No failed runs.')),
    h('section', { 'aria-labelledby': 'waiting-approvals' },
      h('h2', { id: 'waiting-approvals' }, 'Waiting approvals'),
      table('Approvals waiting for a decision', [
        ['Run', (a) => link(`#/runs/${a.run}`, a.run)],
        ['Step', (a) => a.step],
        ['Asks', (a) => (typeof a.message === 'string' ? a.message : JSON.stringify(a.message ?? ''))],
        ['Requested', (a) => when(a.requested_at)],
      ], approvals, 'Nothing is waiting for a decision.')));
}
