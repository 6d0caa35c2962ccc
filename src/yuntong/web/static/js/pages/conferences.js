// Conference calls: the ones you organise, and the form that opens one on one of your numbers
// with a PIN (phones dial number*PIN).

import { get, post } from '../api.js';
import '../app.js';
import { t } from '../i18n.js';
import { $, cell, clearErrors, onSubmit, showErrors } from '../ui.js';

async function loadList() {
  const conferences = await get('/conferences');
  $('#conference-rows').replaceChildren(...conferences.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.conferenceId = c.id;
    const link = document.createElement('a');
    link.href = `/conferences/${c.id}`;
    link.textContent = c.title;
    cell(tr, link);
    cell(tr, `${c.dial_in}*PIN`, 'mono');
    cell(tr, t(`ui.conferences.state.${c.state}`) + (c.locked ? ` · ${t('ui.conferences.locked')}` : ''));
    return tr;
  }));
  $('#conferences-empty').hidden = conferences.length > 0;
}

async function loadNumbers() {
  const mine = await get('/numbers/mine');
  $('#dial-in').replaceChildren(...mine.filter((n) => n.state === 'assigned').map((n) => {
    const option = document.createElement('option');
    option.value = n.e164;
    option.textContent = n.national;
    return option;
  }));
}

const form = $('#conference-form');
onSubmit(form, async () => {
  clearErrors(form);
  const data = new FormData(form);
  try {
    const made = await post('/conferences', {
      title: data.get('title'), dial_in: data.get('dial_in'), pin: data.get('pin'),
    });
    location.href = `/conferences/${made.id}`;
  } catch (error) {
    showErrors(form, error);
  }
});

Promise.all([loadList(), loadNumbers()]).catch((error) => {
  const box = $('#conferences-error');
  box.textContent = error.message;
  box.hidden = false;
});
