import * as api from '../api.js';
import { h, fill, when, table, toast, errorBox, json } from '../dom.js';

export async function render(main) {
  const page = await api.get(api.path('/v1/dead-letters', { limit: 100 }));
  const message = h('div', { 'aria-live': 'polite' });
  const redrive = (letter) => async () => {
    try {
      await api.post(`/v1/dead-letters/${encodeURIComponent(letter.message.id)}/redrive`);
      toast(`Message ${letter.message.id} was sent again.`);
      render(main);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  };
  fill(main,
    h('h1', {}, 'Dead letters'),
    h('p', { class: 'muted' }, 'Messages that could not be delivered. Redrive sends one again.'),
    message,
    table('Dead letters', [
      ['Message', (d) => h('code', {}, d.message.id)],
      ['To', (d) => recipient(d.message.to)],
      ['Kind', (d) => d.message.kind],
      ['Why', (d) => d.error],
      ['Tries', (d) => String(d.receives)],
      ['Failed', (d) => when(d.failed_at)],
      ['Payload', (d) => h('details', {}, h('summary', {}, 'show'), json(d.message.payload, 'Message payload'))],
      ['', (d) => h('button', { type: 'button', onclick: redrive(d), 'aria-label': `Redrive ${d.message.id}` }, 'Redrive')],
    ], page.items, 'No dead letters.'));
}

function recipient(to) {
  if (!to) return '—';
  if (to.agent) return to.agent;
  const tags = (to.tags || []).join(', ');
  return `broadcast${to.capability ? ` to ${to.capability}` : ''}${tags ? ` [${tags}]` : ''}`;
}
