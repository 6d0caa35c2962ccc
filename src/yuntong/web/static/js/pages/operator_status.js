// Staff's status page: every change goes through /api/v1/status, then the page is shown again
// (the server renders the lists).
import '../app.js';

import { patch, post } from '../api.js';
import { $, $$, clearErrors, formValues, onSubmit, showErrors } from '../ui.js';

const pageError = $('#staff-status-error');

async function act(form, call) {
  if (form) clearErrors(form);
  try {
    await call();
  } catch (err) {
    if (form) showErrors(form, err);
    else {
      pageError.textContent = err.message;
      pageError.hidden = false;
    }
    return;
  }
  location.reload();
}

const iso = (local) => (local ? new Date(local).toISOString() : '');

for (const select of $$('[data-set-state]')) {
  select.addEventListener('change', () =>
    act(null, () => patch(`/status/components/${select.dataset.setState}`, { state: select.value })),
  );
}

const componentForm = $('#component-form');
onSubmit(componentForm, () =>
  act(componentForm, () => {
    const v = formValues(componentForm);
    return post('/status/components', { ...v, position: Number(v.position || 0) });
  }),
);

const incidentForm = $('#incident-form');
onSubmit(incidentForm, () =>
  act(incidentForm, () => {
    const impacts = {};
    for (const s of $$('[data-impact]', incidentForm)) if (s.value) impacts[s.dataset.impact] = s.value;
    const v = formValues(incidentForm);
    return post('/status/incidents', {
      title_zh: v.title_zh,
      title_en: v.title_en,
      message_zh: v.message_zh,
      message_en: v.message_en,
      impacts,
    });
  }),
);

for (const form of $$('.update-form')) {
  onSubmit(form, () =>
    act(form, () => post(`/status/incidents/${form.dataset.incident}/updates`, formValues(form))),
  );
}

const maintenanceForm = $('#maintenance-form');
onSubmit(maintenanceForm, () =>
  act(maintenanceForm, () => {
    const v = formValues(maintenanceForm);
    const ids = $$('[data-maintenance-component]', maintenanceForm)
      .filter((c) => c.checked)
      .map((c) => Number(c.dataset.maintenanceComponent));
    return post('/status/maintenance', {
      title_zh: v.title_zh,
      title_en: v.title_en,
      description_zh: v.description_zh,
      description_en: v.description_en,
      starts_at: iso(v.starts_at),
      ends_at: iso(v.ends_at),
      component_ids: ids,
    });
  }),
);

for (const button of $$('[data-cancel]')) {
  button.addEventListener('click', () =>
    act(null, () => post(`/status/maintenance/${button.dataset.cancel}/cancel`)),
  );
}
