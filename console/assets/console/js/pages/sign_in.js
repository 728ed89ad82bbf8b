import * as api from '../api.js';
import { h, errorBox } from '../dom.js';

let lastError = null;

export function rememberError(error) {
  lastError = error;
}

export function render() {
  const message = h('div', { 'aria-live': 'polite' });
  if (lastError) {
    message.append(errorBox(lastError));
    lastError = null;
  }
  const form = h('form', { class: 'card narrow', onsubmit: async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await api.signInWithClient(String(data.get('client_id')).trim(), String(data.get('client_secret')));
    } catch (error) {
      message.replaceChildren(errorBox(error));
      button.disabled = false;
    }
  } },
  h('h1', {}, 'Sign in'),
  h('p', {}, 'Use a client credential (an admin’s, or any client of your tenant). ',
    'On ', h('code', {}, 'skein dev'), ', the link it prints signs you in with one click; ',
    h('code', {}, 'skein console'), ' prints a fresh one.'),
  h('div', { class: 'field' }, h('label', { for: 'client-id' }, 'Client id'),
    h('input', { id: 'client-id', name: 'client_id', autocomplete: 'username', required: true, placeholder: 'cli_…' })),
  h('div', { class: 'field' }, h('label', { for: 'client-secret' }, 'Client secret'),
    h('input', { id: 'client-secret', name: 'client_secret', type: 'password', autocomplete: 'current-password', required: true })),
  message,
  h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  return form;
}
