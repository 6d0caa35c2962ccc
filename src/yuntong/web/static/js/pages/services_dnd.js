// The do-not-disturb card of the services page (/services#dnd): the switch, the state in words,
// and the schedules (quiet hours) — listed, added, changed, switched on and off, deleted.

import { del, get, post, put } from '../api.js';
import { rt } from '../app.js';
import { describe, scheduleLine, zoneName } from '../dnd.js';
import { t } from '../i18n.js';
import { $, $$, button, clearErrors, confirmDialog, onSubmit, showErrors, toast } from '../ui.js';

const card = $('#dnd');
const form = $('#dnd-form');
let view = null; // the last GET /presence/dnd
let editing = null; // the schedule being changed, or null when adding

function paintState(state) {
  const line = $('#dnd-state');
  line.textContent = describe(state, view.timezone);
  line.dataset.on = String(state.on);
  $('#dnd-now').checked = state.on;
}

function scheduleItem(schedule) {
  const li = document.createElement('li');
  li.dataset.scheduleId = String(schedule.id);
  const text = document.createElement('div');
  text.className = 'dnd-schedule';
  const name = document.createElement('strong');
  name.textContent = schedule.name || t('ui.dnd.unnamed');
  const line = document.createElement('div');
  line.className = 'muted small';
  line.textContent = scheduleLine(schedule);
  text.append(name, line);
  const actions = document.createElement('div');
  actions.className = 'row';
  const toggle = document.createElement('label');
  toggle.className = 'switch';
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.checked = schedule.enabled;
  box.setAttribute('aria-label', `${t('ui.dnd.enabled')}: ${name.textContent}`);
  box.addEventListener('change', () => save(schedule.id, { ...bodyOf(schedule), enabled: box.checked }, null));
  toggle.append(box);
  actions.append(
    toggle,
    button(t('ui.common.edit'), 'btn-ghost', () => edit(schedule)),
    button(t('ui.common.delete'), 'btn-ghost', () => remove(schedule)),
  );
  li.append(text, actions);
  return li;
}

const bodyOf = (s) => ({
  name: s.name, days: s.days, weekdays: s.weekdays, start: s.start, end: s.end, enabled: s.enabled,
});

function render(fresh) {
  view = fresh;
  paintState(view);
  $('#dnd-hint').textContent = t('ui.dnd.hint', { zone: zoneName(view.timezone) });
  const list = $('#dnd-schedules');
  list.replaceChildren(...view.schedules.map(scheduleItem));
  $('#dnd-empty').hidden = view.schedules.length > 0;
  // schedules are a paid service (vas_dnd_schedule): not ordered, the form is locked (the
  // switch stays free) and the services page's not-ordered note says why
  $('#dnd-not-ordered').hidden = view.ordered;
  const full = !view.ordered || (!view.can_add && editing === null);
  const limit = $('#dnd-limit');
  limit.hidden = !full || !view.ordered;
  limit.textContent = t('ui.dnd.limit', { max: view.max_schedules });
  $$('input, select, button[type="submit"]', form).forEach((el) => { el.disabled = full; });
  card.dataset.loaded = 'true';
}

async function load() {
  render(await get('/presence/dnd'));
}

function showWeekdays() {
  $('#dnd-weekdays').hidden = form.days.value !== 'weekdays';
}

function reset() {
  editing = null;
  form.reset();
  clearErrors(form);
  showWeekdays();
  $('#dnd-form-title').textContent = t('ui.dnd.add');
  $('#dnd-cancel').hidden = true;
}

function edit(schedule) {
  reset();
  editing = schedule.id;
  form.name.value = schedule.name;
  form.days.value = schedule.days;
  for (const box of $$('input[name="weekday"]', form)) box.checked = schedule.weekdays.includes(Number(box.value));
  form.start.value = schedule.start;
  form.end.value = schedule.end;
  form.enabled.checked = schedule.enabled;
  showWeekdays();
  $('#dnd-form-title').textContent = t('ui.dnd.edit_title');
  $('#dnd-cancel').hidden = false;
  $$('input, select, button', form).forEach((el) => { el.disabled = false; });
  form.name.focus();
}

/** Add (id null) or replace a schedule; errors under the form's fields, or in a toast. */
async function save(id, body, errorsOn) {
  try {
    if (id === null) await post('/presence/dnd/schedules', body);
    else await put(`/presence/dnd/schedules/${id}`, body);
  } catch (err) {
    if (errorsOn) showErrors(errorsOn, err);
    else toast(err.message || err.code, { error: true });
    await load();
    return false;
  }
  toast(t('ui.common.saved'));
  if (errorsOn) reset(); // saved from the form: free it before the list shows the schedule
  await load();
  return true;
}

async function remove(schedule) {
  const name = schedule.name || t('ui.dnd.unnamed');
  if (!(await confirmDialog(t('ui.dnd.delete_confirm', { name })))) return;
  try {
    await del(`/presence/dnd/schedules/${schedule.id}`);
  } catch (err) {
    toast(err.message || err.code, { error: true });
  }
  if (editing === schedule.id) reset();
  toast(t('ui.dnd.deleted'));
  await load();
}

form.days.addEventListener('change', showWeekdays);
$('#dnd-cancel').addEventListener('click', () => { reset(); render(view); });

onSubmit(form, async () => {
  clearErrors(form);
  const body = {
    name: form.name.value.trim(),
    days: form.days.value,
    weekdays: form.days.value === 'weekdays'
      ? $$('input[name="weekday"]:checked', form).map((box) => Number(box.value))
      : [],
    start: form.start.value,
    end: form.end.value,
    enabled: form.enabled.checked,
  };
  await save(editing, body, form);
});

$('#dnd-now').addEventListener('change', async (event) => {
  try {
    render(await put('/presence/dnd', { on: event.target.checked }));
  } catch (err) {
    toast(err.message || err.code, { error: true });
    await load();
  }
});

// a window starting or ending, or a change made elsewhere (another tab, the CLI)
rt.on('presence.dnd', () => load());

export async function mountDnd() {
  reset();
  await load();
}
