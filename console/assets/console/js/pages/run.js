// One run, live: its DAG coloured by step status, a timeline of steps and attempts, and a
// drawer with a step's input, output, error, attempts and map progress. Events from the
// run's stream trigger a re-read of the run (coalesced), so the page never drifts from
// what the API says.

import * as api from '../api.js';
import { h, fill, badge, when, link, duration, json, toast, errorBox } from '../dom.js';
import { drawGraph } from '../graph.js';
import { decisionForm } from './approvals.js';

const REFRESH_EVERY_MS = 150;

export async function render(main, { params }) {
  const id = params[0];
  const runPath = `/v1/runs/${encodeURIComponent(id)}`;
  let view = await api.get(runPath);
  const drawing = await api.get(api.path(`/v1/workflows/${encodeURIComponent(view.workflow)}/graph`, {
    format: 'json', version: view.version,
  }));
  let selected = null;
  const live = h('span', { class: 'live', 'aria-live': 'polite' });
  const header = h('div');
  const graphBox = h('div', { class: 'graph-scroll' });
  const timelineBox = h('div', { class: 'timeline' });
  const resultBox = h('div');
  const drawer = h('aside', { class: 'drawer', hidden: true, 'aria-labelledby': 'drawer-title', tabindex: -1,
    onkeydown: (event) => { if (event.key === 'Escape') close(); } });

  function stepById(stepId) {
    return view.steps.find((step) => step.id === stepId);
  }

  function open(stepId) {
    selected = stepId;
    drawDrawer();
    drawer.hidden = false;
    drawer.focus();
  }

  function close() {
    const was = selected;
    selected = null;
    drawer.hidden = true;
    const node = graphBox.querySelector(`[data-step="${CSS.escape(was || '')}"]`);
    if (node) node.focus();
  }

  function drawHeader() {
    const running = view.status === 'running';
    const took = view.finished_at ? duration(new Date(view.finished_at) - new Date(view.started_at)) : null;
    fill(header,
      h('p', {}, link(`#/runs?workflow=${encodeURIComponent(view.workflow)}`, `← Runs of ${view.workflow}`)),
      h('h1', {}, h('span', { class: 'mono' }, view.id), ' ', badge(view.status)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Workflow'), h('dd', {}, link(`#/workflows/${encodeURIComponent(view.workflow)}?version=${view.version}`, `${view.workflow} v${view.version}`)),
        h('dt', {}, 'Started'), h('dd', {}, when(view.started_at), view.started_by ? ` by ${view.started_by}` : ''),
        h('dt', {}, 'Took'), h('dd', {}, took || 'still running'),
        view.parent ? [h('dt', {}, 'Started by step'), h('dd', {}, link(`#/runs/${view.parent.run}`, `${view.parent.step} of ${view.parent.run}`))] : null),
      h('div', { class: 'actions' },
        running ? h('button', { type: 'button', class: 'danger', onclick: cancel }, 'Cancel run') : null,
        live));
  }

  async function cancel() {
    if (!confirm(`Cancel ${view.id}? Steps in flight are stopped.`)) return;
    try {
      await api.post(`${runPath}/cancel`);
      toast('Cancelling…');
      refresh();
    } catch (error) {
      toast(error.message, 'error');
    }
  }

  function drawGraphBox() {
    const focused = document.activeElement && document.activeElement.getAttribute('data-step');
    const statuses = new Map(view.steps.map((step) => [step.id, step.status]));
    fill(graphBox, drawGraph({
      steps: drawing.steps, edges: drawing.edges, status: (stepId) => statuses.get(stepId),
      onSelect: open, label: `Steps of ${view.id}`,
    }));
    if (focused) {
      const node = graphBox.querySelector(`[data-step="${CSS.escape(focused)}"]`);
      if (node) node.focus({ preventScroll: true });
    }
  }

  function drawTimeline() {
    const start = new Date(view.started_at).getTime();
    const end = view.finished_at ? new Date(view.finished_at).getTime() : Date.now();
    const span = Math.max(end - start, 1);
    // Started steps by when they started; the ones not started yet after them.
    const began = (step) => (step.started_at ? new Date(step.started_at).getTime() : Infinity);
    const steps = view.steps.filter((step) => step.attempts.length || step.queued_at)
      .sort((a, b) => began(a) - began(b));
    const bar = (from, to, kind, title) => h('span', {
      class: `bar ${kind}`, title,
      style: `left:${(100 * (from - start)) / span}%;width:${Math.max((100 * (to - from)) / span, 0.4)}%`,
    });
    fill(timelineBox, steps.length ? h('ol', { class: 'rows', 'aria-label': 'Timeline of steps and attempts' }, steps.map((step) => h('li', {},
      h('button', { type: 'button', class: 'link step-name', onclick: () => open(step.id) }, step.id),
      h('span', { class: 'track' }, step.attempts.map((attempt) => {
        const from = new Date(attempt.started_at).getTime();
        const to = attempt.finished_at ? new Date(attempt.finished_at).getTime() : end;
        const outcome = attempt.error ? 'failed' : (attempt.finished_at ? 'succeeded' : 'running');
        return bar(from, to, `st-${outcome}`, `attempt ${attempt.number}: ${outcome}${attempt.error ? ` (${attempt.error.error})` : ''}`);
      })),
      h('span', { class: 'took' }, duration(step.duration_ms)))))
      : h('p', { class: 'muted' }, 'No step has started yet.'));
  }

  function drawResult() {
    fill(resultBox,
      h('details', {}, h('summary', {}, 'Run input'), json(view.input, 'Run input')),
      view.output !== undefined ? h('section', {}, h('h2', {}, 'Run output'), json(view.output, 'Run output')) : null,
      view.error ? h('section', {}, h('h2', {}, 'Run error'), h('div', { class: 'error', role: 'alert' }, h('strong', {}, view.error.error), ': ', view.error.cause)) : null);
  }

  function drawDrawer() {
    const step = selected && stepById(selected);
    if (!step) return;
    const items = step.items;
    fill(drawer,
      h('div', { class: 'drawer-head' },
        h('h2', { id: 'drawer-title' }, `Step ${step.id}`),
        h('button', { type: 'button', class: 'link', onclick: close, 'aria-label': 'Close step details' }, 'Close ✕')),
      h('p', {}, badge(step.status), ` ${step.type}`, step.depends_on.length ? ` · after ${step.depends_on.join(', ')}` : ''),
      step.status === 'awaiting_approval' ? decisionForm(view.id, step.id, refresh) : null,
      items ? h('div', { class: 'progress-block' },
        h('label', { for: 'map-progress' }, `Items: ${items.succeeded} succeeded, ${items.failed} failed of ${items.total}`),
        h('progress', { id: 'map-progress', max: items.total || 1, value: items.succeeded + items.failed })) : null,
      step.child_run ? h('p', {}, 'Sub-workflow run: ', link(`#/runs/${step.child_run}`, step.child_run)) : null,
      step.task ? h('p', {}, 'Task: ', h('code', {}, step.task)) : null,
      step.error ? h('section', {}, h('h3', {}, 'Error'), h('div', { class: 'error', role: 'alert' }, h('strong', {}, step.error.error), ': ', step.error.cause)) : null,
      h('h3', {}, 'Attempts'),
      step.attempts.length ? h('ol', { class: 'attempts' }, step.attempts.map((attempt) => h('li', {},
        `#${attempt.number} started `, when(attempt.started_at),
        attempt.finished_at ? ` · took ${duration(new Date(attempt.finished_at) - new Date(attempt.started_at))}` : ' · running',
        attempt.error ? h('div', { class: 'error' }, `${attempt.error.error}: ${attempt.error.cause}`) : null)))
        : h('p', { class: 'muted' }, 'Not started.'),
      h('h3', {}, 'Input'), json(step.input, `Input of ${step.id}`),
      h('h3', {}, 'Output'), json(step.output, `Output of ${step.id}`));
  }

  function drawAll() {
    drawHeader();
    drawGraphBox();
    drawTimeline();
    drawResult();
    if (selected) drawDrawer();
  }

  let pending = null;
  let inFlight = false;
  async function refresh() {
    if (inFlight) {
      pending = pending || setTimeout(() => { pending = null; refresh(); }, REFRESH_EVERY_MS);
      return;
    }
    inFlight = true;
    try {
      view = await api.get(runPath);
      drawAll();
    } catch (error) {
      live.replaceChildren(errorBox(error));
    } finally {
      inFlight = false;
    }
  }
  function schedule() {
    if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, REFRESH_EVERY_MS);
  }

  fill(main, header,
    h('div', { class: 'run-layout' },
      h('section', { 'aria-labelledby': 'graph-title' }, h('h2', { id: 'graph-title' }, 'Steps'), graphBox),
      drawer),
    h('section', { 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Timeline'), timelineBox),
    resultBox);
  drawAll();

  const stop = new AbortController();
  if (view.status === 'running') {
    live.textContent = 'live';
    api.watchEvents(view.id, (event) => {
      if (api.isRunEnd(event.type)) live.textContent = '';
      schedule();
    }, stop.signal).catch((error) => live.replaceChildren(errorBox(error)));
  }
  return () => {
    stop.abort();
    clearTimeout(pending);
  };
}
