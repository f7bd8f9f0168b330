import { ApiError, NetworkError } from './problems.js';

/**
 * The pages' one way to call the API. It keeps the session in memory and in sessionStorage (gone when
 * the tab closes), sends the bearer token, and on a 401 `invalid-token` rotates the refresh token once
 * and retries. When the session cannot be renewed it calls `onSessionEnded`.
 *
 * @example
 * const api = createApiClient({ storageKey: 'estate.console.session', onSessionEnded: showLogin });
 * const me = await api.get('/v1/me');
 */
export function createApiClient({ storageKey, onSessionEnded }) {
  let session = readSession(storageKey);
  let refreshing = null;

  function setSession(next) {
    session = next ? { accessToken: next.accessToken, refreshToken: next.refreshToken } : null;
    if (session) sessionStorage.setItem(storageKey, JSON.stringify(session));
    else sessionStorage.removeItem(storageKey);
  }

  async function send(path, options) {
    const headers = new Headers(options.headers);
    headers.set('accept', 'application/json, application/problem+json, */*');
    let body = options.body;
    if (options.json !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(options.json);
    }
    if (session && !options.anonymous) headers.set('authorization', `Bearer ${session.accessToken}`);
    try {
      return await fetch(path, { method: options.method ?? 'GET', headers, body, credentials: 'same-origin' });
    } catch (error) {
      throw new NetworkError(error);
    }
  }

  // Concurrent 401s share one refresh: the refresh token rotates, so a second use would be refused.
  function refresh() {
    if (!refreshing) {
      const refreshToken = session?.refreshToken;
      refreshing = (async () => {
        if (!refreshToken) return false;
        const res = await send('/v1/auth/refresh', { method: 'POST', json: { refreshToken }, anonymous: true });
        if (!res.ok) return false;
        setSession(await res.json());
        return true;
      })().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  async function request(path, options = {}) {
    let res = await send(path, options);
    if (res.status === 401 && session && !options.anonymous) {
      const problem = await readProblem(res.clone());
      if (problem.type?.endsWith('invalid-token') && (await refresh().catch(() => false))) {
        res = await send(path, options);
      }
      if (res.status === 401) {
        setSession(null);
        onSessionEnded?.();
      }
    }
    if (!res.ok) throw new ApiError(res.status, await readProblem(res));
    if (options.raw) return res;
    if (res.status === 204 || res.status === 205) return null;
    const type = res.headers.get('content-type') ?? '';
    return type.includes('json') ? res.json() : res.text();
  }

  return {
    get: (path, options) => request(path, { ...options, method: 'GET' }),
    post: (path, json, options) => request(path, { ...options, method: 'POST', json }),
    upload: (path, formData) => request(path, { method: 'POST', body: formData }),
    delete: (path) => request(path, { method: 'DELETE' }),
    request,
    hasSession: () => session !== null,
    /** Stores the tokens a login endpoint returned. */
    startSession: (tokens) => setSession(tokens),
    /** Revokes the session on the server (best effort) and forgets it here. */
    async logout() {
      if (session) await send('/v1/auth/logout', { method: 'POST' }).catch(() => undefined);
      setSession(null);
    },
  };
}

function readSession(storageKey) {
  try {
    const stored = JSON.parse(sessionStorage.getItem(storageKey) ?? 'null');
    return stored && typeof stored.accessToken === 'string' && typeof stored.refreshToken === 'string' ? stored : null;
  } catch {
    return null;
  }
}

async function readProblem(res) {
  try {
    const body = await res.json();
    return body && typeof body === 'object' ? body : {};
  } catch {
    return {};
  }
}

/** `path?key=value…`, skipping empty values. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') query.set(key, String(value));
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}
