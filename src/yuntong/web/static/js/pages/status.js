// The public status page: the subscription form (POST /status/subscriptions), and the buttons
// of the e-mails' confirm and unsubscribe links. Everything else is rendered by the server.

import { post } from '../api.js';
import { $, clearErrors, onSubmit, showErrors } from '../ui.js';

if ($('#yt-me')) import('../app.js'); // the signed-in shell (calls, presence) only for members

const form = $('#subscribe-form');
if (form) {
  onSubmit(form, async () => {
    clearErrors(form);
    try {
      await post('/status/subscriptions', { email: form.email.value, locale: form.dataset.locale });
    } catch (err) {
      showErrors(form, err);
      return;
    }
    form.hidden = true;
    $('#subscribe-sent').hidden = false;
  });
}

const link = $('#status-link');
if (link) {
  const button = $('#status-link-button');
  button.addEventListener('click', async () => {
    button.disabled = true;
    const error = $('#status-link-error');
    error.hidden = true;
    try {
      await post(`/status/subscriptions/${link.dataset.kind}`, { token: link.dataset.token });
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      button.disabled = false;
      return;
    }
    button.hidden = true;
    $('#status-link-done').hidden = false;
  });
}
