// Log-in page: POST /auth/login (web kind sets the session cookie), then go where we were going.

import { post } from '../api.js';
import { $, clearErrors, formValues, onSubmit, showErrors } from '../ui.js';

const form = $('#login-form');

onSubmit(form, async () => {
  clearErrors(form);
  const { username, password } = formValues(form);
  try {
    await post('/auth/login', { username, password: form.password.value, kind: 'web' });
  } catch (err) {
    if (err.code === 'account_pending') {
      location.href = '/pending';
      return;
    }
    showErrors(form, err);
    return;
  }
  const next = form.dataset.next || '/contacts';
  location.href = next.startsWith('/') && !next.startsWith('//') ? next : '/contacts';
});
