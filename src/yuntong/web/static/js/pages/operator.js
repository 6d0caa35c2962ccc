// Operator console: review pending registrations (approve / reject with a reason) and move
// users along the enforcement ladder (warned, limited, suspended, terminated, active). What
// may be done to each user comes with it from the API (status_moves, suggested_status,
// can_approve, can_reject); the page offers exactly that.
import '../app.js';

import { get, post } from '../api.js';
import { formatDateTime, t } from '../i18n.js';
import { $, button, cell, toast } from '../ui.js';

const statusFilter = $('#users-status');

function reasonInput() {
  const input = document.createElement('input');
  input.name = 'reason';
  input.maxLength = 500;
  input.placeholder = t('ui.field.reason');
  input.setAttribute('aria-label', t('ui.field.reason'));
  return input;
}

async function run(request, done) {
  try {
    await request();
  } catch (err) {
    toast(err.message, { error: true });
    return;
  }
  toast(done);
  await Promise.all([loadPending(), loadUsers()]);
}

function needReason(input) {
  if (input.value.trim()) return false;
  input.closest('td').classList.add('invalid');
  input.focus();
  toast(t('ui.operator.reason_required'), { error: true });
  return true;
}

function approveButton(u) {
  return button(t('ui.operator.approve'), 'btn-success act-approve', () => run(
    () => post(`/admin/users/${u.id}/approve`), t('ui.operator.approved', { name: u.username }),
  ));
}

/** A <select> of the statuses the API says the user may be moved to, the suggested one chosen. */
function statusSelect(u) {
  const select = document.createElement('select');
  select.name = 'status';
  select.setAttribute('aria-label', t('ui.field.status'));
  select.append(...u.status_moves.map((status) => {
    const option = document.createElement('option');
    option.value = status;
    option.textContent = t(`ui.status.${status}`);
    return option;
  }));
  select.value = u.suggested_status || u.status_moves[0];
  return select;
}

async function loadPending() {
  const users = await get('/admin/users', { status: 'pending' });
  $('#pending-count').textContent = String(users.length);
  $('#pending-rows').replaceChildren(...users.map((u) => {
    const tr = document.createElement('tr');
    tr.dataset.username = u.username;
    cell(tr, u.username);
    cell(tr, u.display_name);
    cell(tr, t(`ui.operator.kind.${u.organisation_id ? 'organisation' : 'individual'}`));
    cell(tr, formatDateTime(u.created_at));
    const reason = reasonInput();
    cell(tr, reason, 'reason-cell');
    const actions = document.createElement('div');
    actions.className = 'actions';
    if (u.can_approve) actions.append(approveButton(u));
    if (u.can_reject) {
      actions.append(button(t('ui.operator.reject'), 'btn-ghost act-reject', () => {
        if (needReason(reason)) return;
        run(() => post(`/admin/users/${u.id}/reject`, { reason: reason.value.trim() }),
          t('ui.operator.rejected', { name: u.username }));
      }));
    }
    cell(tr, actions, 'num');
    return tr;
  }));
  $('#pending-empty').hidden = users.length > 0;
}

async function loadUsers() {
  const users = await get('/admin/users', { status: statusFilter.value });
  $('#users-rows').replaceChildren(...users.map((u) => {
    const tr = document.createElement('tr');
    tr.dataset.username = u.username;
    cell(tr, u.username);
    cell(tr, u.display_name);
    cell(tr, t(`ui.role.${u.role}`));
    const tag = document.createElement('span');
    tag.className = `tag ${u.status === 'active' ? 'tag-ok' : 'tag-warn'}`;
    tag.textContent = t(`ui.status.${u.status}`);
    tag.title = u.status_reason || '';
    cell(tr, tag);
    const actions = document.createElement('div');
    actions.className = 'actions';
    const moves = u.status_moves.length > 0;
    const reason = reasonInput();
    reason.hidden = !moves;
    cell(tr, reason, 'reason-cell');
    if (moves) {
      const select = statusSelect(u);
      actions.append(select, button(t('ui.operator.change_status'), 'btn-primary act-status', () => {
        if (needReason(reason)) return;
        run(() => post(`/admin/users/${u.id}/status`, { status: select.value, reason: reason.value.trim() }),
          t('ui.operator.status_changed', { name: u.username, status: t(`ui.status.${select.value}`) }));
      }));
    }
    if (u.can_approve) actions.append(approveButton(u)); // a rejected applicant, approved after all
    cell(tr, actions, 'num');
    return tr;
  }));
  $('#users-empty').hidden = users.length > 0;
}

statusFilter.addEventListener('change', loadUsers);
await Promise.all([loadPending(), loadUsers()]);
