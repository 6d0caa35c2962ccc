// Account page: profile, identity (hidden until asked, then from /me/identity), password, sessions.

import { del, get, patch, post } from '../api.js';
import { logout } from '../app.js';
import { formatDateTime, locale, t } from '../i18n.js';
import { $, clearErrors, formValues, onSubmit, showErrors, toast } from '../ui.js';

const HIDDEN = '••••••';
const PERSON_FIELDS = ['full_name', 'email', 'phone', 'birth_date', 'id_type', 'id_number', 'address', 'employer'];
const ORG_FIELDS = ['legal_name', 'uscc', 'legal_representative', 'contact_name', 'contact_phone', 'address'];
const ORG_LABEL = { address: 'ui.field.org_address' };

let me = null;

async function loadProfile() {
  ({ user: me } = await get('/me'));
  const form = $('#profile-form');
  form.username.value = me.username;
  form.display_name.value = me.display_name;
  form.locale.value = me.locale;
  $('#profile-meta').textContent = `${t(`ui.role.${me.role}`)} · ${t(`ui.status.${me.status}`)}`;
  renderIdentity(null);
}

function renderIdentity(identity) {
  const dl = $('#identity');
  dl.dataset.masked = String(!identity);
  const entries = [];
  const value = (v, field) => {
    if (!identity) return HIDDEN;
    if (field === 'id_type' && v) return t(`ui.field.id_type.${v}`);
    return v || '—';
  };
  const orgId = me.organisation_id;
  if (!orgId || identity?.full_name) {
    for (const f of PERSON_FIELDS) entries.push([t(`ui.field.${f}`), value(identity?.[f], f), f]);
  }
  if (orgId) {
    for (const f of ORG_FIELDS) entries.push([t(ORG_LABEL[f] || `ui.field.${f}`), value(identity?.organisation?.[f], f), `org-${f}`]);
  }
  dl.replaceChildren(...entries.flatMap(([label, text, key]) => {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = text;
    dd.dataset.field = key;
    return [dt, dd];
  }));
}

const toggle = $('#identity-toggle');
toggle.addEventListener('click', async () => {
  const show = toggle.getAttribute('aria-pressed') !== 'true';
  if (show) {
    try {
      renderIdentity(await get('/me/identity'));
    } catch (err) {
      toast(err.message, { error: true });
      return;
    }
  } else {
    renderIdentity(null);
  }
  toggle.setAttribute('aria-pressed', String(show));
  toggle.textContent = show ? toggle.dataset.hide : toggle.dataset.show;
});

const profileForm = $('#profile-form');
onSubmit(profileForm, async () => {
  clearErrors(profileForm);
  const { display_name: displayName, locale: chosen } = formValues(profileForm);
  try {
    ({ user: me } = await patch('/me', { display_name: displayName, locale: chosen }));
  } catch (err) {
    showErrors(profileForm, err);
    return;
  }
  if (chosen !== locale) {
    location.href = `/lang/${chosen}?next=/account`;
    return;
  }
  toast(t('ui.common.saved'));
});

const passwordForm = $('#password-form');
onSubmit(passwordForm, async () => {
  clearErrors(passwordForm);
  try {
    await post('/me/password', {
      current_password: passwordForm.current_password.value,
      new_password: passwordForm.new_password.value,
    });
  } catch (err) {
    showErrors(passwordForm, err);
    return;
  }
  passwordForm.reset();
  toast(t('ui.account.password_changed'));
  await loadSessions();
});

/** "Chrome · Linux" from a User-Agent header; the whole string is in the cell's title. */
function describeAgent(ua) {
  if (!ua) return '—';
  const browser = [['Edg/', 'Edge'], ['Firefox/', 'Firefox'], ['Chrome/', 'Chrome'], ['Safari/', 'Safari']]
    .find(([needle]) => ua.includes(needle))?.[1];
  const os = [['Android', 'Android'], ['iPhone', 'iOS'], ['Windows', 'Windows'], ['Mac OS', 'macOS'], ['Linux', 'Linux']]
    .find(([needle]) => ua.includes(needle))?.[1];
  return [browser, os].filter(Boolean).join(' · ') || ua.slice(0, 40);
}

async function loadSessions() {
  const sessions = await get('/me/sessions');
  $('#sessions-rows').replaceChildren(...sessions.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.sessionId = s.id;
    const cells = [describeAgent(s.user_agent), t(`ui.account.kind.${s.kind}`), formatDateTime(s.created_at), formatDateTime(s.last_seen_at)];
    for (const text of cells) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    tr.firstElementChild.className = 'ua';
    tr.firstElementChild.title = s.user_agent || '';
    const action = document.createElement('td');
    action.className = 'num';
    if (s.current) {
      const tag = document.createElement('span');
      tag.className = 'tag tag-ok';
      tag.textContent = t('ui.account.session_current');
      action.append(tag);
    } else {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'btn btn-ghost btn-sm';
      button.textContent = t('ui.account.session_revoke');
      button.addEventListener('click', async () => {
        try {
          await del(`/me/sessions/${s.id}`);
          toast(t('ui.account.session_revoked'));
        } catch (err) {
          toast(err.message, { error: true });
        }
        await loadSessions();
      });
      action.append(button);
    }
    tr.append(action);
    return tr;
  }));
}

$('#account-logout').addEventListener('click', logout);
await loadProfile();
await loadSessions();
