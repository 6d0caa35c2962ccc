// Disclosure buttons (the page menu on phones, the meeting's "More" sheet): a
// <button data-disclosure aria-controls="id" aria-expanded="false"> opens and closes the element
// it controls. The stylesheet decides from aria-expanded what is shown, and at which widths the
// button is there at all; this script only keeps the attribute true to what the person did.
// Escape, a click elsewhere, or choosing something in the panel closes it (Escape gives the
// focus back to the button); controls inside [data-keep-open] leave it open.

const BUTTON = 'button[data-disclosure][aria-controls]';

function panelOf(button) {
  return document.getElementById(button.getAttribute('aria-controls'));
}

function setOpen(button, open) {
  button.setAttribute('aria-expanded', String(open));
}

function openButtons() {
  return [...document.querySelectorAll(`${BUTTON}[aria-expanded="true"]`)];
}

document.addEventListener('click', (event) => {
  const toggle = event.target.closest(BUTTON);
  for (const button of openButtons()) {
    if (button === toggle) continue;
    const panel = panelOf(button);
    const inside = panel?.contains(event.target);
    const chosen = inside && event.target.closest('a, button') && !event.target.closest('[data-keep-open]');
    if (!inside || chosen) setOpen(button, false);
  }
  if (toggle) setOpen(toggle, toggle.getAttribute('aria-expanded') !== 'true');
});

document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  for (const button of openButtons()) {
    setOpen(button, false);
    if (panelOf(button)?.contains(document.activeElement)) button.focus();
  }
});
