// Contacts page: the address book with live presence, search and favourites, adding, editing,
// deleting, blocking — and dialing, by contact or by username.

import { del, get, patch, post } from '../api.js';
import { presenceOf, rt, startCall, startSipCall } from '../app.js';
import { sipLine } from '../sipcall.js';
import { describe } from '../dnd.js';
import { t } from '../i18n.js';
import { $, clearErrors, confirmDialog, formValues, initials, onSubmit, showErrors, toast } from '../ui.js';

const list = $('#contact-list');
const rowTemplate = $('#contact-row');
const search = $('#contact-search');
let contacts = [];
let favouritesOnly = false;
let editing = null;

async function load() {
  const q = search.value.trim();
  try {
    contacts = await get('/contacts', { q, favourite: favouritesOnly ? 'true' : undefined });
  } catch (err) {
    toast(err.message, { error: true });
    return;
  }
  render(Boolean(q) || favouritesOnly);
}

function render(filtered) {
  list.setAttribute('aria-busy', 'false');
  list.replaceChildren(...contacts.map(row));
  $('#contacts-empty').hidden = contacts.length > 0 || filtered;
  $('#contacts-nomatch').hidden = contacts.length > 0 || !filtered;
  paintPresence();
}

function row(contact) {
  const li = rowTemplate.content.firstElementChild.cloneNode(true);
  li.dataset.userId = contact.user_id;
  li.dataset.username = contact.username;
  li.classList.toggle('favourite', contact.favourite);
  li.classList.toggle('is-blocked', contact.blocked);
  li.querySelector('.avatar').prepend(initials(contact.name));
  li.querySelector('.name').textContent = contact.name;
  li.querySelector('.username').textContent = `@${contact.username}`;
  li.querySelector('.contact-notes').textContent = contact.notes || '';
  li.querySelector('.blocked-tag').hidden = !contact.blocked;
  const fav = li.querySelector('.act-fav');
  fav.textContent = contact.favourite ? fav.dataset.on : fav.dataset.off;
  const block = li.querySelector('.act-block');
  block.textContent = contact.blocked ? block.dataset.on : block.dataset.off;
  const peer = { user_id: contact.user_id, username: contact.username, display_name: contact.name };
  li.querySelector('.act-audio').addEventListener('click', () => startCall(contact.username, 'audio', peer));
  li.querySelector('.act-video').addEventListener('click', () => startCall(contact.username, 'video', peer));
  fav.addEventListener('click', () => act(() => patch(`/contacts/${contact.id}`, { favourite: !contact.favourite })));
  li.querySelector('.act-edit').addEventListener('click', () => openEdit(contact));
  block.addEventListener('click', () => toggleBlock(contact));
  li.querySelector('.act-delete').addEventListener('click', async () => {
    if (await confirmDialog(t('ui.contacts.confirm_delete', { name: contact.name }))) {
      await act(() => del(`/contacts/${contact.id}`));
    }
  });
  return li;
}

function paintPresence() {
  for (const li of list.children) {
    const status = presenceOf(Number(li.dataset.userId));
    li.querySelector('.dot').dataset.status = status;
    li.querySelector('.presence-label').textContent = t(`ui.presence.${status}`);
  }
}

async function act(request) {
  try {
    await request();
  } catch (err) {
    toast(err.message, { error: true });
  }
  await Promise.all([load(), loadBlocked()]);
}

async function toggleBlock(contact) {
  if (contact.blocked) {
    await act(() => del(`/blocks/${contact.user_id}`));
  } else if (await confirmDialog(t('ui.contacts.confirm_block', { name: contact.name }))) {
    await act(() => post('/blocks', { user_id: contact.user_id }));
  }
}

async function loadBlocked() {
  let blocked = [];
  try {
    blocked = await get('/blocks');
  } catch {
    return;
  }
  $('#blocked-list').replaceChildren(...blocked.map((b) => {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = `${b.display_name} (@${b.username})`;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'btn btn-ghost btn-sm';
    button.textContent = t('ui.contacts.unblock');
    button.addEventListener('click', () => act(() => del(`/blocks/${b.user_id}`)));
    li.append(name, button);
    return li;
  }));
  $('#blocked-empty').hidden = blocked.length > 0;
}

// -- editing ---------------------------------------------------------------------------------

const dialog = $('#edit-dialog');
const editForm = $('#edit-form');

function openEdit(contact) {
  editing = contact;
  clearErrors(editForm);
  editForm.name.value = contact.name;
  editForm.notes.value = contact.notes || '';
  dialog.showModal();
}

$('#edit-cancel').addEventListener('click', () => dialog.close());
onSubmit(editForm, async () => {
  const { name, notes } = formValues(editForm);
  try {
    await patch(`/contacts/${editing.id}`, { name, notes });
  } catch (err) {
    showErrors(editForm, err);
    return;
  }
  dialog.close();
  await load();
});

// -- adding and dialing ----------------------------------------------------------------------

const addForm = $('#add-contact-form');
onSubmit(addForm, async () => {
  const { query, name } = formValues(addForm);
  let added;
  try {
    added = await post('/contacts', { query, ...(name ? { name } : {}) });
  } catch (err) {
    // user_not_found, contact_exists, contact_self: all about what was typed
    if (!Object.keys(err.fields).length) err.fields = { query: { message: err.message } };
    showErrors(addForm, err);
    return;
  }
  addForm.reset();
  clearErrors(addForm);
  toast(t('ui.contacts.added', { name: added.name }));
  await load();
});

const dialForm = $('#dial-form');
onSubmit(dialForm, async (event) => {
  const to = dialForm.to.value.trim();
  clearErrors(dialForm);
  if (!to) {
    $('[data-error-for="to"]', dialForm).textContent = t('ui.common.required');
    dialForm.to.closest('.field').classList.add('invalid');
    return;
  }
  if (KEYPAD_CODE.test(to)) {
    await runKeypadCode(to);
    return;
  }
  if (event.submitter?.value === 'sip') { // a phone call through the SIP gateway
    startSipCall(to);
    return;
  }
  const media = event.submitter?.value === 'audio' ? 'audio' : 'video';
  const known = contacts.find((c) => c.username === to.toLowerCase());
  const fromNumber = dialForm.from_number?.value || null;
  startCall(to, media, known ? { user_id: known.user_id, username: known.username, display_name: known.name } : null, { fromNumber });
});

// a keypad code (*21*number#, #21#, *#21# ...) is done by the server, not dialled
const KEYPAD_CODE = /^[*#][0-9*#]*#$/;
async function runKeypadCode(code) {
  try {
    const done = await post('/services/mmi', { code });
    toast(t('ui.services.mmi_done', {
      service: done.service,
      state: t(done.active ? 'ui.services.on' : 'ui.services.off'),
    }));
    dialForm.reset();
  } catch (err) {
    toast(err.message, { error: true });
  }
}

// a caller with numbers of their own chooses which one a call by number comes from
async function loadCallingNumbers() {
  const select = dialForm.from_number;
  try {
    const { numbers } = await get('/calls/calling-numbers');
    select.replaceChildren(...numbers.map((n) => new Option(n, n)));
    $('#dial-from-field').hidden = numbers.length < 2;
  } catch {
    // calls by username need no number
  }
}
loadCallingNumbers();

// -- filters and do-not-disturb --------------------------------------------------------------

let searchTimer = null;
search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(load, 200);
});
for (const [id, fav] of [['#filter-all', false], ['#filter-fav', true]]) {
  $(id).addEventListener('click', () => {
    favouritesOnly = fav;
    $('#filter-all').setAttribute('aria-selected', String(!fav));
    $('#filter-fav').setAttribute('aria-selected', String(fav));
    load();
  });
}

const dnd = $('#dnd-toggle');
let dndZone = null; // the schedules' time zone, from GET /presence/dnd

function paintDnd(state) {
  dnd.checked = state.on;
  $('#dnd-why').textContent = describe(state, dndZone);
}

async function loadDnd() {
  try {
    const state = await get('/presence/dnd');
    dndZone = state.timezone;
    paintDnd(state);
  } catch {
    // the switch still works; the explanation is a convenience
  }
}

dnd.addEventListener('change', async () => {
  try {
    await rt.request('presence.set', { status: dnd.checked ? 'dnd' : 'online' });
  } catch (err) {
    dnd.checked = !dnd.checked;
    toast(err.message || err.code, { error: true });
  }
  await loadDnd();
});
// a window started or ended, or do-not-disturb changed elsewhere
rt.on('presence.dnd', (state) => (dndZone ? paintDnd(state) : loadDnd()));
loadDnd();

document.addEventListener('yt:presence', paintPresence);
load();
loadBlocked();

// the phone-call button shows once this browser's SIP line is registered (sipcall.js)
function showSipButton() {
  const button = $('#dial-sip');
  if (button) button.hidden = !sipLine.number;
}
document.addEventListener('yt:sip-line', showSipButton);
showSipButton();
