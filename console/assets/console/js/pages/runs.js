import * as api from '../api.js';
import { h, fill, badge, when, table, link, duration } from '../dom.js';

const STATUSES = ['running', 'succeeded', 'failed', 'timed_out', 'cancelled'];

export async function render(main, { query }) {
  const workflow = query.get('workflow') || '';
  const status = query.get('status') || '';
  const cursor = query.get('cursor') || '';
  const [page, workflows] = await Promise.all([
    api.get(api.path('/v1/runs', { workflow, status, cursor, limit: 50 })),
    api.get(api.path('/v1/workflows', { limit: 200 })),
  ]);
  const filters = h('form', { class: 'toolbar', role: 'search', onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const next = new URLSearchParams();
    for (const key of ['workflow', 'status']) if (data.get(key)) next.set(key, data.get(key));
    location.hash = `#/runs${next.toString() ? `?${next}` : ''}`;
  } },
  h('label', { for: 'filter-workflow' }, 'Workflow'),
  h('select', { id: 'filter-workflow', name: 'workflow' }, h('option', { value: '' }, 'any'),
    workflows.items.map((w) => h('option', { value: w.name, selected: w.name === workflow }, w.name))),
  h('label', { for: 'filter-status' }, 'Status'),
  h('select', { id: 'filter-status', name: 'status' }, h('option', { value: '' }, 'any'),
    STATUSES.map((s) => h('option', { value: s, selected: s === status }, s.replace('_', ' ')))),
  h('button', { type: 'submit' }, 'Filter'));
  const next = page.next_cursor
    ? link(`#/runs?${new URLSearchParams({ ...(workflow && { workflow }), ...(status && { status }), cursor: page.next_cursor })}`, 'Older runs →')
    : null;
  fill(main,
    h('h1', {}, 'Runs'),
    filters,
    table('Runs', [
      ['Run', (r) => link(`#/runs/${r.id}`, r.id)],
      ['Workflow', (r) => `${r.workflow} v${r.version}`],
      ['Status', (r) => badge(r.status)],
      ['Started', (r) => when(r.started_at)],
      ['Took', (r) => (r.finished_at ? duration(new Date(r.finished_at) - new Date(r.started_at)) : '—')],
      ['Parent', (r) => (r.parent ? link(`#/runs/${r.parent.run}`, r.parent.step) : '—')],
    ], page.items, 'No runs match.'),
    next ? h('p', {}, next) : null);
}
