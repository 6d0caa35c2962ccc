// Pages without a signed-in user and without behaviour of their own (the pending notice).
import '../i18n.js';
