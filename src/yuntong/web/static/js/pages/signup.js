// Sign-up page: individual and organisation tabs, each posting its own registration form.

import { post } from '../api.js';
import { t } from '../i18n.js';
import { $, $$, clearErrors, formValues, onSubmit, showErrors } from '../ui.js';

const ENDPOINT = {
  individual: '/accounts/register/individual',
  organisation: '/accounts/register/organisation',
};

function selectTab(kind) {
  for (const tab of $$('.tab')) tab.setAttribute('aria-selected', String(tab.dataset.kind === kind));
  for (const form of $$('.signup-form')) form.hidden = form.dataset.kind !== kind;
  history.replaceState(null, '', kind === 'organisation' ? '?kind=organisation' : location.pathname);
}

for (const tab of $$('.tab')) tab.addEventListener('click', () => selectTab(tab.dataset.kind));

for (const form of $$('.signup-form')) {
  onSubmit(form, async () => {
    clearErrors(form);
    const body = formValues(form);
    body.password = form.password.value; // never trimmed
    for (const [key, value] of Object.entries(body)) if (value === '' && key === 'email') delete body[key];
    let result;
    try {
      result = await post(ENDPOINT[form.dataset.kind], body);
    } catch (err) {
      if (err.code === 'validation_failed') err.message = t('ui.signup.fix_fields');
      showErrors(form, err);
      return;
    }
    location.href = result.user.status === 'active' ? '/login?notice=registered' : '/pending';
  });
}
