// A form generated from a workflow's `input_schema` (JSON Schema): a field per top-level
// property (text, number, checkbox, choice), JSON for nested objects and arrays, and the
// whole input as JSON for schemas the form cannot show field by field.

import { h } from './dom.js';

let fieldCount = 0;

/** Returns {element, value()}; value() throws an Error naming the field to fix. */
export function inputForm(schema) {
  const properties = schema && schema.type === 'object' && schema.properties;
  if (!properties) return rawJson(schema);
  const required = new Set(schema.required || []);
  const fields = Object.entries(properties).map(([name, property]) => field(name, property || {}, required.has(name)));
  return {
    element: h('div', { class: 'fields' }, fields.map((f) => f.element)),
    value() {
      const input = {};
      for (const f of fields) {
        const value = f.value();
        if (value !== undefined) input[f.name] = value;
      }
      return input;
    },
  };
}

function field(name, property, required) {
  const id = `field-${++fieldCount}`;
  const help = property.description ? h('small', { id: `${id}-help` }, property.description) : null;
  const describedBy = help ? `${id}-help` : null;
  const caption = h('label', { for: id }, name, required ? h('span', { class: 'required' }, ' (required)') : null);
  let control;
  let read;
  if (Array.isArray(property.enum)) {
    control = h('select', { id, 'aria-describedby': describedBy },
      required ? null : h('option', { value: '' }, '—'),
      property.enum.map((option) => h('option', { value: JSON.stringify(option) }, String(option))));
    read = () => (control.value === '' ? undefined : JSON.parse(control.value));
  } else if (property.type === 'boolean') {
    control = h('input', { id, type: 'checkbox', 'aria-describedby': describedBy, checked: property.default === true });
    read = () => control.checked;
  } else if (property.type === 'number' || property.type === 'integer') {
    control = h('input', {
      id, type: 'number', step: property.type === 'integer' ? 1 : 'any', required,
      min: property.minimum, max: property.maximum, value: property.default, 'aria-describedby': describedBy,
    });
    read = () => {
      if (control.value === '') return undefined;
      const number = Number(control.value);
      if (!Number.isFinite(number)) throw new Error(`${name}: enter a number`);
      return number;
    };
  } else if (property.type === 'string' || property.type === undefined && !property.properties) {
    control = h('input', {
      id, type: 'text', required, minlength: property.minLength, maxlength: property.maxLength,
      value: property.default, 'aria-describedby': describedBy,
    });
    read = () => (control.value === '' ? undefined : control.value);
  } else {
    const example = property.default ?? skeleton(property);
    control = h('textarea', { id, rows: 6, class: 'code', required, 'aria-describedby': describedBy,
      placeholder: JSON.stringify(example) });
    control.value = property.default !== undefined ? JSON.stringify(property.default, null, 2) : '';
    read = () => {
      if (control.value.trim() === '') return undefined;
      try {
        return JSON.parse(control.value);
      } catch (error) {
        throw new Error(`${name}: not valid JSON (${error.message})`);
      }
    };
  }
  return {
    name,
    element: h('div', { class: 'field' }, caption, control, help),
    value: () => {
      const value = read();
      if (value === undefined && required) throw new Error(`${name} is required`);
      return value;
    },
  };
}

function rawJson() {
  const id = `field-${++fieldCount}`;
  const control = h('textarea', { id, rows: 10, class: 'code' }, '{}');
  return {
    element: h('div', { class: 'field' }, h('label', { for: id }, 'Input (JSON)'), control),
    value() {
      try {
        return JSON.parse(control.value || 'null');
      } catch (error) {
        throw new Error(`input: not valid JSON (${error.message})`);
      }
    },
  };
}

/** A value of the schema's shape with empty leaves, shown as a hint of what to type. */
function skeleton(schema, depth = 0) {
  if (!schema || depth > 4) return null;
  if (schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  switch (schema.type) {
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties || {})
        .map(([name, property]) => [name, skeleton(property, depth + 1)]));
    case 'array':
      return schema.items ? [skeleton(schema.items, depth + 1)] : [];
    case 'string': return '';
    case 'number': case 'integer': return 0;
    case 'boolean': return false;
    default: return null;
  }
}
