import * as api from '../api.js';
import { h, fill, when, table, link, toast, errorBox, json } from '../dom.js';
import { drawGraph } from '../graph.js';
import { inputForm } from '../form.js';

export async function render(main, { params, query, variant }) {
  if (variant === 'workflow') return renderWorkflow(main, params[0], query.get('version'));
  const page = await api.get(api.path('/v1/workflows', { limit: 200 }));
  fill(main,
    h('h1', {}, 'Workflows'),
    registerForm(main),
    table('Workflows', [
      ['Name', (w) => link(`#/workflows/${encodeURIComponent(w.name)}`, w.name)],
      ['Latest', (w) => `v${w.latest_version}`],
      ['Mode', (w) => w.mode],
      ['Description', (w) => w.description || '—'],
      ['Updated', (w) => when(w.updated_at)],
      ['Runs', (w) => link(`#/runs?workflow=${encodeURIComponent(w.name)}`, 'runs')],
    ], page.items, 'No workflows yet: `skein workflows apply examples/*.yaml` registers the examples.'));
}

async function renderWorkflow(main, name, chosen) {
  const base = `/v1/workflows/${encodeURIComponent(name)}`;
  const versions = await api.get(`${base}/versions`);
  const version = chosen || 'latest';
  const [found, drawing] = await Promise.all([
    api.get(`${base}/versions/${version}`),
    api.get(api.path(`${base}/graph`, { format: 'json', version: chosen })),
  ]);
  const definition = found.definition || {};
  const form = inputForm(definition.input_schema);
  const message = h('div', { 'aria-live': 'polite' });
  const runForm = h('form', { class: 'card', 'aria-labelledby': 'start-run', onsubmit: async (event) => {
    event.preventDefault();
    let input;
    try {
      input = form.value();
    } catch (error) {
      message.replaceChildren(errorBox(error));
      return;
    }
    try {
      const run = await api.post(`${base}/runs`, { input, version: found.version });
      toast(`Run ${run.id} started.`);
      location.hash = `#/runs/${run.id}`;
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  } },
  h('h2', { id: 'start-run' }, 'Start a run'),
  form.element,
  message,
  h('button', { type: 'submit', class: 'primary' }, `Run v${found.version}`));

  const versionPicker = h('select', { id: 'version', onchange: (event) => {
    location.hash = `#/workflows/${encodeURIComponent(name)}?version=${event.target.value}`;
  } }, versions.map((v) => h('option', { value: v.version, selected: v.version === found.version }, `v${v.version} · ${new Date(v.created_at).toLocaleString()}`)));

  fill(main,
    h('p', {}, link('#/workflows', '← Workflows')),
    h('h1', {}, name),
    definition.description ? h('p', {}, definition.description) : null,
    h('div', { class: 'toolbar' },
      h('label', { for: 'version' }, 'Version '), versionPicker,
      link(`#/runs?workflow=${encodeURIComponent(name)}`, 'Its runs')),
    h('div', { class: 'split' },
      h('section', { 'aria-labelledby': 'dag-heading', class: 'graph-panel' },
        h('h2', { id: 'dag-heading' }, 'Steps'),
        h('div', { class: 'graph-scroll' }, drawGraph({
          steps: drawing.steps, edges: drawing.edges, label: `${name} v${found.version} steps`,
          onSelect: (id) => showStep(definition, id),
        })),
        h('div', { id: 'step-detail', 'aria-live': 'polite' })),
      runForm),
    h('details', {}, h('summary', {}, 'Input schema'), json(definition.input_schema ?? null, 'Input schema')),
    h('details', {}, h('summary', {}, 'Definition'), json(definition, 'Definition')),
    h('details', {}, h('summary', {}, 'Compiled ASL (what Step Functions runs)'), json(found.asl, 'Amazon States Language')));
}

function showStep(definition, id) {
  const step = (definition.steps || []).find((s) => s.id === id);
  const box = document.getElementById('step-detail');
  if (box) fill(box, h('h3', {}, `Step ${id}`), json(step, `Step ${id} definition`));
}

/** Paste or pick a workflow file; a changed definition becomes the next version. */
function registerForm(main) {
  const message = h('div', { 'aria-live': 'polite' });
  const text = h('textarea', { id: 'workflow-text', rows: 12, class: 'code', required: true,
    placeholder: 'name: my-workflow\nsteps:\n  - id: hello\n    builtin: echo' });
  const file = h('input', { id: 'workflow-file', type: 'file', accept: '.yaml,.yml,.json', onchange: async () => {
    if (file.files[0]) text.value = await file.files[0].text();
  } });
  const form = h('form', { onsubmit: async (event) => {
    event.preventDefault();
    const body = text.value.trim();
    const type = body.startsWith('{') ? 'application/json' : 'application/yaml';
    try {
      const registered = await api.postText('/v1/workflows', body, type);
      toast(`${registered.workflow} v${registered.version} registered.`);
      location.hash = `#/workflows/${encodeURIComponent(registered.workflow)}`;
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  } },
  h('div', { class: 'field' }, h('label', { for: 'workflow-file' }, 'From a file'), file),
  h('div', { class: 'field' }, h('label', { for: 'workflow-text' }, 'Definition (YAML or JSON)'), text),
  message,
  h('button', { type: 'submit', class: 'primary' }, 'Register'));
  return h('details', { class: 'card' }, h('summary', {}, 'Register a workflow'), form);
}
