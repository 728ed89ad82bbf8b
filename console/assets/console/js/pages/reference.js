// The API reference: the server's own OpenAPI document in RapiDoc (vendored, loaded only
// on this page), with "try it" sending the signed-in token.

import * as api from '../api.js';
import { h, fill } from '../dom.js';

let loading = null;

function loadViewer() {
  loading ||= new Promise((resolve, reject) => {
    const script = h('script', { type: 'module', src: '/console/vendor/rapidoc/rapidoc-min.js' });
    script.addEventListener('load', resolve);
    script.addEventListener('error', () => reject(new Error('the API viewer did not load')));
    document.head.append(script);
  });
  return loading;
}

export async function render(main) {
  await loadViewer();
  const viewer = document.createElement('rapi-doc');
  const settings = {
    'spec-url': '/v1/openapi.json',
    // Its default fetches Open Sans from Google's CDN; the console uses the system's fonts.
    'load-fonts': 'false',
    'render-style': 'view',
    'show-header': 'false',
    'allow-authentication': 'true',
    'allow-server-selection': 'false',
    'server-url': location.origin,
    'default-api-server': location.origin,
    theme: 'light',
    'primary-color': '#1d4ed8',
    'regular-font': 'system-ui, sans-serif',
    'mono-font': 'ui-monospace, monospace',
    'schema-description-expanded': 'true',
  };
  for (const [name, value] of Object.entries(settings)) viewer.setAttribute(name, value);
  viewer.addEventListener('spec-loaded', () => {
    viewer.setApiKey('bearer', api.token());
  });
  viewer.addEventListener('before-try', (event) => {
    const { headers } = event.detail.request;
    const value = `Bearer ${api.token()}`;
    if (typeof headers.set === 'function') headers.set('authorization', value);
    else headers.authorization = value;
  });
  fill(main, h('h1', {}, 'API reference'),
    h('p', { class: 'muted' }, 'Generated from the running server (', h('a', { href: '/v1/openapi.json' }, '/v1/openapi.json'), '). "Try" sends your signed-in token.'),
    viewer);
}
