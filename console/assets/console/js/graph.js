// A workflow's DAG drawn as SVG: steps in layers by their longest path from a start, each
// layer ordered by where its steps' dependencies sit (one barycentre sweep, which is all
// a workflow's DAG needs to read well), edges as curves. Each step is a focusable button.

import { s } from './dom.js';

const NODE_WIDTH = 168;
const NODE_HEIGHT = 48;
const LAYER_GAP = 72;
const NODE_GAP = 20;
const MARGIN = 12;

/**
 * `steps`: [{id, type, performer?}]; `edges`: [[from, to]]; `status(id)`: a step status or
 * undefined; `onSelect(id)`: called when a step is clicked or chosen with the keyboard.
 */
export function drawGraph({ steps, edges, status = () => undefined, onSelect, label }) {
  const layout = layOut(steps, edges);
  const width = Math.max(...layout.layers.map((layer) => layer.length), 1)
    * (NODE_WIDTH + NODE_GAP) - NODE_GAP + 2 * MARGIN;
  const height = layout.layers.length * (NODE_HEIGHT + LAYER_GAP) - LAYER_GAP + 2 * MARGIN;
  const svg = s('svg', {
    class: 'dag', viewBox: `0 0 ${width} ${height}`, width, height, role: 'group',
    'aria-label': label || 'Workflow graph',
  });
  const defs = s('defs', {},
    s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' })));
  svg.append(defs);
  const edgeGroup = s('g', { class: 'edges', 'aria-hidden': 'true' });
  for (const [from, to] of edges) {
    const a = layout.position.get(from);
    const b = layout.position.get(to);
    if (!a || !b) continue;
    const x1 = a.x + NODE_WIDTH / 2;
    const y1 = a.y + NODE_HEIGHT;
    const x2 = b.x + NODE_WIDTH / 2;
    const y2 = b.y;
    const bend = (y2 - y1) / 2;
    edgeGroup.append(s('path', {
      d: `M ${x1} ${y1} C ${x1} ${y1 + bend}, ${x2} ${y2 - bend}, ${x2} ${y2}`,
      'marker-end': 'url(#arrow)',
    }));
  }
  svg.append(edgeGroup);
  const nodes = s('g', { class: 'nodes' });
  for (const step of steps) {
    const at = layout.position.get(step.id);
    const state = status(step.id);
    const name = clip(step.id, 20);
    const sub = clip(state ? state.replaceAll('_', ' ') : (step.performer || step.type), 24);
    const node = s('g', {
      class: `node st-${state || 'none'} kind-${step.type}`,
      transform: `translate(${at.x} ${at.y})`,
      tabindex: 0,
      role: 'button',
      'data-step': step.id,
      onclick: () => onSelect && onSelect(step.id),
      onkeydown: (event) => {
        if ((event.key === 'Enter' || event.key === ' ') && onSelect) {
          event.preventDefault();
          onSelect(step.id);
        }
      },
    },
    s('rect', { width: NODE_WIDTH, height: NODE_HEIGHT, rx: step.type === 'approval' ? 18 : 6 }),
    // The name comes from the two lines, as they read; a clipped id is whole in the tooltip.
    s('title', {}, `${step.id}: ${state ? state.replaceAll('_', ' ') : (step.performer || step.type)}`),
    s('text', { x: 10, y: 20, class: 'name' }, name, ' '),
    s('text', { x: 10, y: 38, class: 'sub' }, sub));
    nodes.append(node);
  }
  svg.append(nodes);
  return svg;
}

function clip(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

/** Layers by longest path, then each layer ordered by its predecessors' mean position. */
export function layOut(steps, edges) {
  const ids = steps.map((step) => step.id);
  const predecessors = new Map(ids.map((id) => [id, []]));
  const successors = new Map(ids.map((id) => [id, []]));
  for (const [from, to] of edges) {
    if (!predecessors.has(to) || !successors.has(from)) continue;
    predecessors.get(to).push(from);
    successors.get(from).push(to);
  }
  const depth = new Map();
  const remaining = new Map(ids.map((id) => [id, predecessors.get(id).length]));
  const ready = ids.filter((id) => remaining.get(id) === 0);
  for (const id of ready) depth.set(id, 0);
  while (ready.length) {
    const id = ready.shift();
    for (const next of successors.get(id)) {
      depth.set(next, Math.max(depth.get(next) || 0, depth.get(id) + 1));
      remaining.set(next, remaining.get(next) - 1);
      if (remaining.get(next) === 0) ready.push(next);
    }
  }
  const layers = [];
  for (const id of ids) {
    const d = depth.get(id) || 0;
    (layers[d] ||= []).push(id);
  }
  const order = new Map();
  layers.forEach((layer, index) => {
    if (index > 0) {
      const weight = (id) => {
        const before = predecessors.get(id).map((p) => order.get(p)).filter((n) => n !== undefined);
        return before.length ? before.reduce((a, b) => a + b, 0) / before.length : 0;
      };
      layer.sort((a, b) => weight(a) - weight(b));
    }
    layer.forEach((id, n) => order.set(id, n));
  });
  const widest = Math.max(...layers.map((layer) => layer.length), 1);
  const position = new Map();
  layers.forEach((layer, row) => {
    const offset = ((widest - layer.length) * (NODE_WIDTH + NODE_GAP)) / 2;
    layer.forEach((id, column) => {
      position.set(id, {
        x: MARGIN + offset + column * (NODE_WIDTH + NODE_GAP),
        y: MARGIN + row * (NODE_HEIGHT + LAYER_GAP),
      });
    });
  });
  return { layers, position };
}
