// Supplementary services page: caller ID, forwarding, barring and the barring PIN, call waiting,
// and do-not-disturb with its schedules (services_dnd.js) (/services).

import '../app.js'; // the signed-in shell: calls (and call waiting) ring on this page too
import { get, put } from '../api.js';
import '../app.js'; // the signed-in shell: realtime connection, presence, incoming calls
import { t } from '../i18n.js';
import { $, $$, clearErrors, onSubmit, showErrors, toast } from '../ui.js';
import { mountDnd } from './services_dnd.js';

const FORWARDINGS = ['cfu', 'cfb', 'cfnry', 'cfnrc'];
const BARS = ['bar_outgoing', 'bar_international', 'bar_incoming', 'bar_anonymous'];
const national = (e164) => (e164 ? e164.replace(/^\+86/, '') : '');

function render(view) {
  const s = view.services;
  const callerId = $('#caller-id-form');
  callerId.clip.checked = s.clip;
  callerId.clir_mode.value = s.clir_mode;
  const fwd = $('#forwarding-form');
  for (const kind of FORWARDINGS) fwd[kind].value = national(s[kind]);
  fwd.cfnry_timer_s.value = s.cfnry_timer_s;
  const bar = $('#barring-form');
  for (const name of BARS) bar[name].checked = s[name];
  bar.incoming_list_mode.value = s.incoming_list_mode;
  bar.incoming_list.value = s.incoming_list.map(national).join('\n');
  bar.barring_pin.value = '';
  $('#waiting-form').waiting.checked = s.waiting;
  for (const note of $$('[data-needs]')) note.hidden = view.ordered.includes(note.dataset.needs);
  $('#pin-old-field').hidden = !view.pin_set;
  $('#services-page').dataset.loaded = 'true';
}

async function save(form, body) {
  clearErrors(form);
  try {
    render(await put('/services', body));
  } catch (err) {
    showErrors(form, err);
    return;
  }
  toast(t('ui.services.saved'));
}

onSubmit($('#caller-id-form'), async () => {
  const form = $('#caller-id-form');
  await save(form, { clip: form.clip.checked, clir_mode: form.clir_mode.value });
});

onSubmit($('#forwarding-form'), async () => {
  const form = $('#forwarding-form');
  const body = { clear: [] };
  for (const kind of FORWARDINGS) {
    const value = form[kind].value.trim();
    if (value) body[kind] = value;
    else body.clear.push(kind);
  }
  if (form.cfnry_timer_s.value) body.cfnry_timer_s = Number(form.cfnry_timer_s.value);
  await save(form, body);
});

onSubmit($('#barring-form'), async () => {
  const form = $('#barring-form');
  const body = { incoming_list_mode: form.incoming_list_mode.value, barring_pin: form.barring_pin.value || null };
  for (const name of BARS) body[name] = form[name].checked;
  body.incoming_list = form.incoming_list.value.split(/\s+/).filter(Boolean);
  await save(form, body);
});

onSubmit($('#waiting-form'), async () => {
  const form = $('#waiting-form');
  await save(form, { waiting: form.waiting.checked });
});

onSubmit($('#pin-form'), async () => {
  const form = $('#pin-form');
  clearErrors(form);
  try {
    await put('/services/pin', { old_pin: form.old_pin.value || null, new_pin: form.new_pin.value });
  } catch (err) {
    showErrors(form, err);
    return;
  }
  form.reset();
  toast(t('ui.services.pin_set'));
  render(await get('/services'));
});

mountDnd();
render(await get('/services'));
