// Building the page from data. Text always goes in as text (never as HTML), so nothing an
// agent, a workflow or a step writes can run in the console.

export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attributes);
  append(element, children);
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';

export function s(tag, attributes, ...children) {
  const element = document.createElementNS(SVG, tag);
  setAttributes(element, attributes);
  append(element, children);
  return element;
}

function setAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      element.setAttribute('class', value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces everything in `element` with `children`. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** A JSON value, pretty-printed. */
export function json(value, label) {
  return h('pre', { class: 'json', tabindex: 0, 'aria-label': label || 'JSON' },
    value === undefined ? '—' : JSON.stringify(value, null, 2));
}

/** A status as a coloured badge (colour is never the only signal: the word is there). */
export function badge(status) {
  const text = String(status || 'unknown').replaceAll('_', ' ');
  return h('span', { class: `badge st-${status}` }, text);
}

/** A timestamp: local time, with the exact instant on hover. */
export function when(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return h('time', { datetime: iso, title: iso }, ago(date));
}

export function ago(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return date.toLocaleString();
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

/** A table with a caption; `columns` are [heading, cell(row)] pairs. */
export function table(caption, columns, rows, empty = 'Nothing here yet.') {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, columns.map(([heading]) => h('th', { scope: 'col' }, heading)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([, cell]) => h('td', {}, cell(row))))))));
}

/** A short message at the bottom of the screen, read out by screen readers. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toast');
  fill(box, h('div', { class: `toast ${kind}` }, message));
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => fill(box), 5000);
}

/** A problem (RFC 9457) as a message a person can act on. */
export function problemText(error) {
  if (!error || !error.problem) return String(error && error.message ? error.message : error);
  const problem = error.problem;
  const fields = (problem.errors || []).map((e) => `${e.path}: ${e.message}`);
  return [problem.detail || problem.title, ...fields].join('\n');
}

export function errorBox(error) {
  return h('div', { class: 'error', role: 'alert' }, problemText(error));
}

export function link(href, text, attributes = {}) {
  return h('a', { href, ...attributes }, text);
}
