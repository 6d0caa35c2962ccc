// ReDoc on /redoc (yuntong/web/apidocs.py), from the package's own copy (static/vendor). A file,
// not an inline script: the page's Content-Security-Policy allows none. ReDoc puts the page's
// nonce on the <style> elements it inserts, the only inline styles the page allows.

const root = document.getElementById('redoc');

window.Redoc.init(root.dataset.openapiUrl, { nonce: root.dataset.nonce, expandResponses: '200,201' }, root);
