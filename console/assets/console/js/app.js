// The console's shell: sign-in, the navigation, and hash routes (`#/runs/run_...`), so the
// page is one static file wherever it is hosted.

import * as api from './api.js';
import { h, fill, errorBox, toast } from './dom.js';
import * as overview from './pages/overview.js';
import * as agents from './pages/agents.js';
import * as workflows from './pages/workflows.js';
import * as runs from './pages/runs.js';
import * as run from './pages/run.js';
import * as approvals from './pages/approvals.js';
import * as deadLetters from './pages/dead_letters.js';
import * as reference from './pages/reference.js';
import * as signIn from './pages/sign_in.js';

const SECTIONS = [
  ['#/', 'Overview'],
  ['#/agents', 'Agents'],
  ['#/workflows', 'Workflows'],
  ['#/runs', 'Runs'],
  ['#/approvals', 'Approvals'],
  ['#/dead-letters', 'Dead letters'],
  ['#/api', 'API'],
];

const ROUTES = [
  [/^\/$/, overview],
  [/^\/agents$/, agents],
  [/^\/agents\/([^/]+)$/, agents, 'agent'],
  [/^\/workflows$/, workflows],
  [/^\/workflows\/([^/]+)$/, workflows, 'workflow'],
  [/^\/runs$/, runs],
  [/^\/runs\/([^/]+)$/, run],
  [/^\/approvals$/, approvals],
  [/^\/dead-letters$/, deadLetters],
  [/^\/api$/, reference],
];

let cleanup = null;
let rendering = 0;

function currentRoute() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [pathPart, queryPart = ''] = hash.split('?');
  return { path: pathPart || '/', query: new URLSearchParams(queryPart) };
}

async function render() {
  const main = document.getElementById('main');
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const ticket = ++rendering;
  drawNav();
  if (!api.signedIn()) {
    fill(main, signIn.render());
    return;
  }
  const { path, query } = currentRoute();
  for (const [pattern, page, variant] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    const params = match.slice(1).map(decodeURIComponent);
    // Each page draws into its own element, shown only if no newer navigation started
    // meanwhile: a slow page must not replace the one the user went on to.
    const started = performance.now();
    const container = h('div', { class: 'page' });
    try {
      const result = await page.render(container, { params, query, variant });
      if (ticket !== rendering) {
        if (typeof result === 'function') result();
        return;
      }
      cleanup = typeof result === 'function' ? result : null;
      main.replaceChildren(container);
      // Laid out, not only built: what the time below includes.
      void main.offsetHeight;
      main.dataset.renderedMs = String(Math.round(performance.now() - started));
    } catch (error) {
      if (ticket === rendering) fill(main, h('h1', {}, 'Something went wrong'), errorBox(error));
    }
    return;
  }
  fill(main, h('h1', {}, 'Not found'), h('p', {}, 'No console page at this address. ', h('a', { href: '#/' }, 'Go to the overview.')));
}

function drawNav() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!api.signedIn()) {
    fill(nav);
    fill(who);
    return;
  }
  const here = `#${currentRoute().path}`;
  fill(nav, h('ul', {}, SECTIONS.map(([href, text]) => {
    const active = href === '#/' ? here === '#/' : here.startsWith(href);
    return h('li', {}, h('a', { href, 'aria-current': active ? 'page' : null }, text));
  })));
  fill(who, h('button', { type: 'button', class: 'link', onclick: () => {
    api.signOut();
    toast('Signed out.');
  } }, 'Sign out'));
}

/** A `skein dev` sign-in link: `/#code=...`. The code is used once, then dropped from the address. */
async function redeemLinkCode() {
  const match = location.hash.match(/^#code=([A-Za-z0-9_-]+)$/);
  if (!match) return;
  history.replaceState(null, '', `${location.pathname}#/`);
  try {
    await api.signInWithCode(match[1]);
  } catch (error) {
    signIn.rememberError(error);
  }
}

api.onSessionChange(() => render());
window.addEventListener('hashchange', () => {
  render();
  document.getElementById('main').focus({ preventScroll: true });
});

await redeemLinkCode();
render();
