// The console's only way to the platform: the public API, with a token held in this page's
// memory (never in storage: closing the tab signs out).

let session = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function signedIn() {
  return session !== null && session.expiresAt > Date.now();
}

export function onSessionChange(listener) {
  listeners.add(listener);
}

function setSession(token, expiresIn) {
  session = token ? { token, expiresAt: Date.now() + expiresIn * 1000 } : null;
  for (const listener of listeners) listener(signedIn());
}

export function signOut() {
  setSession(null);
}

export function token() {
  return session ? session.token : null;
}

/** The one-time code of a `skein dev` sign-in link. */
export async function signInWithCode(code) {
  const answer = await request('POST', '/console/sign-in', { code }, { anonymous: true });
  setSession(answer.access_token, answer.expires_in);
}

/** OAuth 2.0 client credentials, as any client signs in. */
export async function signInWithClient(clientId, clientSecret) {
  const form = new URLSearchParams({
    grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret,
  });
  const response = await fetch('/v1/auth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form,
  });
  const answer = await read(response);
  setSession(answer.access_token, answer.expires_in);
}

async function read(response) {
  const type = response.headers.get('content-type') || '';
  const body = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) {
    if (response.status === 401 && session) setSession(null);
    throw new ApiError(response.status, typeof body === 'object' ? body : { detail: body });
  }
  return body;
}

async function request(method, path, body, { anonymous = false, signal } = {}) {
  const headers = { accept: 'application/json' };
  if (!anonymous && session) headers.authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  return read(response);
}

/** A workflow file as it is (YAML or JSON): the server parses and checks it. */
export async function postText(path, text, contentType) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': contentType, authorization: `Bearer ${token()}` },
    body: text,
  });
  return read(response);
}

export const get = (path, options) => request('GET', path, undefined, options);
export const post = (path, body, options) => request('POST', path, body === undefined ? {} : body, options);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

/** `/v1/...?key=value`, leaving out empty values. */
export function path(base, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, value);
  }
  const text = params.toString();
  return text ? `${base}?${text}` : base;
}

/**
 * A run's events as they happen (Server-Sent Events over fetch, which can send the token;
 * EventSource cannot). Reconnects with Last-Event-ID until the run ends or `signal` aborts.
 */
export async function watchEvents(runId, onEvent, signal) {
  let lastId = null;
  let ended = false;
  while (!ended && !signal.aborted) {
    try {
      const headers = { accept: 'text/event-stream', authorization: `Bearer ${token()}` };
      if (lastId) headers['last-event-id'] = lastId;
      const response = await fetch(`/v1/runs/${encodeURIComponent(runId)}/events`, { headers, signal });
      if (!response.ok) {
        await read(response);
        return;
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = parseFrame(frame);
          if (!event) continue;
          lastId = event.id || lastId;
          onEvent(event);
          if (isRunEnd(event.type)) ended = true;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError) throw error;
    }
    if (!ended && !signal.aborted) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function parseFrame(frame) {
  const data = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (!data.length) return null;
  try {
    return JSON.parse(data.join('\n'));
  } catch {
    return null;
  }
}

export function isRunEnd(type) {
  return type.startsWith('run.') && type !== 'run.started' && type !== 'run.cancelling';
}
