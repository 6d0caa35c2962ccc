// fetch wrapper for the REST API: JSON in and out, CSRF header on unsafe methods, typed errors.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || '';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export class ApiError extends Error {
  /** `body` is the API's `{code, message, fields}`; `status` the HTTP status (0: network). */
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || 'network_error';
    this.fields = body?.fields || {};
    this.rows = body?.rows || []; // the faulty lines of an import (tariff_table_invalid)
  }
}

export async function api(method, path, body = undefined, query = undefined) {
  const headers = { Accept: 'application/json' };
  if (!SAFE.has(method)) headers['X-CSRF-Token'] = csrf();
  const form = body instanceof FormData; // a file upload: the browser sets the boundary
  if (body !== undefined && !form) headers['Content-Type'] = 'application/json';
  let url = `/api/v1${path}`;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, v);
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined || form ? body : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, { code: 'network_error', message: err.message });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401 && !path.startsWith('/auth/')) {
      location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
    }
    throw new ApiError(response.status, data?.error || { code: 'http_error', message: `HTTP ${response.status}` });
  }
  return data;
}

export const get = (path, query) => api('GET', path, undefined, query);
export const post = (path, body = {}) => api('POST', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);
