import * as api from '../api.js';
import { h, fill, when, link, toast, errorBox, json } from '../dom.js';

let formCount = 0;

/** Approve or reject one waiting step, with a comment. */
export function decisionForm(run, step, done) {
  const id = `comment-${++formCount}`;
  const message = h('div', { 'aria-live': 'polite' });
  const decide = (verdict) => async (event) => {
    event.preventDefault();
    const comment = form.querySelector('textarea').value.trim();
    try {
      await api.post(`/v1/runs/${encodeURIComponent(run)}/steps/${encodeURIComponent(step)}/${verdict}`,
        comment ? { comment } : {});
      toast(`${step} ${verdict === 'approve' ? 'approved' : 'rejected'}.`);
      done();
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  };
  const form = h('form', { class: 'decision', onsubmit: decide('approve') },
    h('label', { for: id }, 'Comment (optional)'),
    h('textarea', { id, rows: 2 }),
    message,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Approve'),
      h('button', { type: 'button', class: 'danger', onclick: decide('reject') }, 'Reject')));
  return form;
}

export async function render(main) {
  const approvals = await api.get('/v1/approvals');
  const again = () => render(main);
  fill(main,
    h('h1', {}, 'Approvals'),
    h('p', { class: 'muted' }, 'Steps waiting for your decision.'),
    approvals.length ? h('ul', { class: 'cards' }, approvals.map((approval) => h('li', { class: 'card' },
      h('h2', {}, approval.workflow, ' · ', approval.step),
      h('p', {}, link(`#/runs/${approval.run}`, approval.run), ' · requested ', when(approval.requested_at),
        approval.due_at ? [' · due ', when(approval.due_at)] : null),
      typeof approval.message === 'string' ? h('p', { class: 'ask' }, approval.message) : json(approval.message, 'What is asked'),
      decisionForm(approval.run, approval.step, again))))
      : h('p', {}, 'Nothing is waiting for a decision.'));
}
