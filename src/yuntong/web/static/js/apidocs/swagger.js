// Swagger UI on /docs (yuntong/web/apidocs.py), from the package's own copy (static/vendor). A file,
// not an inline script: the page's Content-Security-Policy allows none.
//
// "Try it out" sends the browser's session cookie; a signed-in browser's writes also need the
// X-CSRF-Token that GET /api/v1/me gives a cookie session: asked for at the first write to this
// site that carries no bearer token, and added to it and the later ones.

const root = document.getElementById('swagger-ui');
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
let csrf = null; // a promise of the token ('' for a visitor)

function csrfToken() {
  csrf ??= fetch('/api/v1/me', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
    .then((response) => (response.ok ? response.json() : null))
    .then((me) => me?.csrf_token || '')
    .catch(() => '');
  return csrf;
}

function sameSite(url) {
  try {
    return new URL(url, location.href).origin === location.origin;
  } catch {
    return false;
  }
}

window.ui = window.SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  domNode: root,
  layout: 'BaseLayout',
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // the default would fetch a badge from validator.swagger.io
  presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
  requestInterceptor: async (request) => {
    const method = (request.method || 'GET').toUpperCase();
    if (!SAFE.has(method) && sameSite(request.url) && !request.headers.Authorization) {
      const token = await csrfToken();
      if (token) request.headers['X-CSRF-Token'] = token;
    }
    return request;
  },
});
