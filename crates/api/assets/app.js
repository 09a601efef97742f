// Portcullis pages: plain JavaScript, no framework, no build step. It talks to the JSON API
// with the cookies, sends X-CSRF-Token (the csrf_token cookie) on every state change, shows
// problem+json errors on the form and next to their fields, and keeps the session alive by
// refreshing shortly before the access token expires — one schedule shared by every tab
// through localStorage.
'use strict';

(function () {
  const EXPIRY_KEY = 'portcullis.access_expires_at';
  const RELOAD_KEY = 'portcullis.reloaded_at';
  const OFFLINE = 'The server could not be reached. Check your connection and try again.';

  const body = document.body;
  const page = body.dataset.page;
  // What the server saw: "true" (a valid access cookie), "unverified" (one that did not
  // verify, e.g. expired) or nothing (no access cookie).
  const signedIn = body.dataset.signedIn;
  // Pages that only make sense signed in: a session that cannot be refreshed sends the person
  // to log in and come back.
  const needsSession = page === 'account' || page === 'admin' || signedIn === 'true';
  // Refresh a minute before expiry (a quarter of the lifetime for short ones), spread over up
  // to ten seconds so that tabs sharing the schedule do not all go at the same moment.
  const lifetime = Math.max(Number(body.dataset.accessTtl) || 900, 1) * 1000;
  const LEAD = Math.min(60000, lifetime / 4);
  const SPREAD = Math.min(10000, lifetime / 10);

  // ---- small helpers ------------------------------------------------------------------------
  function byId(id) {
    return document.getElementById(id);
  }

  function cookie(name) {
    const prefix = name + '=';
    for (const part of document.cookie.split(';')) {
      const trimmed = part.trim();
      if (trimmed.startsWith(prefix)) return decodeURIComponent(trimmed.slice(prefix.length));
    }
    return '';
  }

  function param(name) {
    return new URLSearchParams(location.search).get(name);
  }

  // A path on this site, or null: it starts with exactly one "/", has no backslash and no
  // control character, and resolves to this origin.
  function safeNext(value) {
    if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) return null;
    if (value.includes('\\') || /[\u0000-\u001f\u007f]/.test(value)) return null;
    try {
      const url = new URL(value, location.origin);
      if (url.origin !== location.origin || url.pathname === '/login') return null;
      return url.pathname + url.search + url.hash;
    } catch (error) {
      return null;
    }
  }

  function toLogin() {
    localStorage.removeItem(EXPIRY_KEY);
    location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
  }

  // Reloads the page so the server renders it with the new cookie — at most once in ten
  // seconds, so a cookie the server still cannot verify never makes a loop.
  function reloadOnce() {
    const last = Number(sessionStorage.getItem(RELOAD_KEY)) || 0;
    if (Date.now() - last < 10000) return false;
    sessionStorage.setItem(RELOAD_KEY, String(Date.now()));
    location.reload();
    return true;
  }

  function show(id, text) {
    const element = byId(id);
    if (!element) return;
    const slot = element.querySelector('.msg') || element;
    slot.textContent = text;
    element.hidden = false;
  }

  function hide(id) {
    const element = byId(id);
    if (element) element.hidden = true;
  }

  function button(text, className, label) {
    const element = document.createElement('button');
    element.type = 'button';
    element.className = className;
    element.textContent = text;
    if (label) element.setAttribute('aria-label', label);
    return element;
  }

  function when(iso) {
    const date = new Date(iso);
    return isNaN(date) ? String(iso) : date.toLocaleString();
  }

  function detail(result, fallback) {
    return (result && result.data && result.data.detail) || (result && result.status === 0 ? OFFLINE : fallback);
  }

  // ---- the session --------------------------------------------------------------------------
  let refreshing = null;
  let timer = null;

  function storedExpiry() {
    return Number(localStorage.getItem(EXPIRY_KEY)) || 0;
  }

  function noteExpiry(expiresIn) {
    if (typeof expiresIn !== 'number') return;
    localStorage.setItem(EXPIRY_KEY, String(Date.now() + expiresIn * 1000));
    schedule();
  }

  // POST /api/auth/refresh, once at a time per tab. Resolves true (new cookies), false (the
  // session is over: 401/403) or null (no answer: offline, or the server is unavailable).
  function refresh() {
    if (!refreshing) {
      refreshing = fetch('/api/auth/refresh', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { Accept: 'application/json', 'X-CSRF-Token': cookie('csrf_token') },
      })
        .then(async (response) => {
          if (response.ok) {
            const data = await response.json().catch(() => ({}));
            noteExpiry(data.expires_in);
            return true;
          }
          if (response.status === 401 || response.status === 403) {
            localStorage.removeItem(EXPIRY_KEY);
            return false;
          }
          return null;
        })
        .catch(() => null)
        .finally(() => {
          refreshing = null;
        });
    }
    return refreshing;
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    const expiresAt = storedExpiry();
    if (!expiresAt) return;
    const wait = Math.max(expiresAt - Date.now() - LEAD - Math.random() * SPREAD, 0);
    timer = setTimeout(onTimer, wait);
  }

  async function onTimer() {
    timer = null;
    // Another tab may have refreshed meanwhile: then the stored expiry is later; wait again.
    if (storedExpiry() - Date.now() > LEAD + SPREAD) {
      schedule();
      return;
    }
    const result = await refresh();
    if (result === false && needsSession) {
      toLogin();
    } else if (result === null) {
      timer = setTimeout(onTimer, Math.max(Math.min(15000, LEAD / 3), 1000));
    }
  }

  window.addEventListener('storage', (event) => {
    if (event.key !== EXPIRY_KEY) return;
    if (event.newValue) {
      if (timer !== null || signedIn === 'true') schedule();
    } else if (event.oldValue && needsSession) {
      // Logged out (or the session ended) in another tab.
      toLogin();
    }
  });

  // Timers of hidden tabs are throttled: catch up when the tab is shown again.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && timer !== null) schedule();
  });

  // ---- calling the API ----------------------------------------------------------------------
  // Resolves { status, ok, data } (status 0 when the server could not be reached). A 401 for
  // an expired or missing access token refreshes once and retries.
  async function api(method, path, payload, retried) {
    const headers = { Accept: 'application/json' };
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') headers['X-CSRF-Token'] = cookie('csrf_token');
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        body: payload === undefined ? undefined : JSON.stringify(payload),
      });
    } catch (error) {
      return { status: 0, ok: false, data: null };
    }
    const text = await response.text().catch(() => '');
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (error) {
        data = null;
      }
    }
    const code = data && data.code;
    if (response.status === 401 && !retried && (code === 'token_expired' || code === 'unauthorized')) {
      const result = await refresh();
      if (result === true) return api(method, path, payload, true);
      if (result === false && needsSession) toLogin();
    }
    return { status: response.status, ok: response.ok, data };
  }

  // ---- forms --------------------------------------------------------------------------------
  function values(form) {
    const fields = {};
    for (const element of form.elements) {
      if (!element.name || element.tagName === 'BUTTON') continue;
      if (element.type === 'checkbox') {
        if (!fields[element.name]) fields[element.name] = [];
        if (element.checked) fields[element.name].push(element.value);
      } else {
        fields[element.name] = element.value;
      }
    }
    return fields;
  }

  function clearErrors(form) {
    hide(form.id + '-error');
    hide(form.id + '-status');
    for (const element of form.querySelectorAll('.field-error')) {
      element.hidden = true;
      element.textContent = '';
    }
    for (const element of form.querySelectorAll('[aria-invalid]')) element.removeAttribute('aria-invalid');
  }

  function fieldError(form, field, message) {
    const slot = byId(form.id + '-' + field + '-error');
    if (!slot) return null;
    slot.textContent = message;
    slot.hidden = false;
    const input = byId(form.id + '-' + field);
    if (input) input.setAttribute('aria-invalid', 'true');
    return input || slot;
  }

  // The problem's `detail` on the form, each `errors[]` message next to its field (messages
  // for a field the form does not show are added to the form's message). A detail that only
  // repeats a message already shown by its field (`weak_password`) is not said twice: the
  // form's message then points at the marked fields instead.
  function showProblem(form, result) {
    const errors = (result.data && Array.isArray(result.data.errors) && result.data.errors) || [];
    const unplaced = [];
    const placed = [];
    let first = null;
    for (const error of errors) {
      const target = fieldError(form, error.field, error.message);
      if (!target) unplaced.push(error.message);
      else {
        placed.push(error.message);
        if (!first && target.tagName === 'INPUT') first = target;
      }
    }
    let message = detail(result, 'Something went wrong. Please try again.');
    if (placed.includes(message)) {
      message = placed.length === 1 ? 'Please correct the field marked below.' : 'Please correct the fields marked below.';
    }
    show(form.id + '-error', [message].concat(unplaced.filter(Boolean)).join(' '));
    if (first) first.focus();
  }

  // Runs `handler(values)` on submit with the submit button disabled; `handler` resolves the
  // API result, and a failed one is shown on the form.
  function onSubmit(form, handler) {
    if (!form) return;
    let busy = false;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      const submit = form.querySelector('button[type=submit]');
      clearErrors(form);
      if (submit) submit.disabled = true;
      form.setAttribute('aria-busy', 'true');
      try {
        const result = await handler(values(form));
        if (result && !result.ok) showProblem(form, result);
      } finally {
        busy = false;
        if (submit) submit.disabled = false;
        form.removeAttribute('aria-busy');
      }
    });
  }

  // A button that is disabled while its handler runs.
  function onClick(element, handler) {
    if (!element) return;
    element.addEventListener('click', async () => {
      if (element.disabled) return;
      element.disabled = true;
      try {
        await handler();
      } finally {
        element.disabled = false;
      }
    });
  }

  async function logout() {
    await api('POST', '/api/auth/logout');
    localStorage.removeItem(EXPIRY_KEY);
    location.assign('/');
  }

  // ---- the account page's lists -------------------------------------------------------------
  function renderUser(user) {
    byId('account-name').textContent = user.name;
    byId('account-email').textContent = user.email;
    const verified = byId('account-verified');
    verified.textContent = user.email_verified ? 'Verified' : 'Not verified';
    verified.classList.toggle('ok', user.email_verified);
    byId('resend-verification').hidden = user.email_verified;
    byId('profile-form-name').value = user.name;
    byId('profile-form-avatar_url').value = user.avatar_url || '';
    const avatar = byId('account-avatar');
    if (user.avatar_url) {
      if (avatar.getAttribute('src') !== user.avatar_url) {
        avatar.src = user.avatar_url;
        avatar.hidden = false; // until it fails to load
      }
    } else {
      avatar.removeAttribute('src');
      avatar.hidden = true;
    }
    const adminLink = byId('admin-link');
    if (adminLink) adminLink.hidden = !user.roles.includes('admin');
  }

  function listItem(className, dataKey, id, title, meta) {
    const item = document.createElement('li');
    item.className = className;
    item.dataset[dataKey] = id;
    const text = document.createElement('div');
    const strong = document.createElement('strong');
    strong.textContent = title;
    const small = document.createElement('span');
    small.className = 'meta';
    small.textContent = meta;
    text.append(strong, small);
    item.appendChild(text);
    return item;
  }

  async function loadSessions() {
    const result = await api('GET', '/api/auth/sessions');
    if (!result.ok) {
      show('sessions-error', detail(result, 'The sessions could not be loaded.'));
      return;
    }
    hide('sessions-error');
    const list = byId('sessions-list');
    list.textContent = '';
    for (const session of result.data) {
      const device = session.device || session.user_agent || 'Unknown device';
      const meta = (session.ip ? session.ip + ' · ' : '') + 'last active ' + when(session.last_used_at);
      const item = listItem('session', 'sessionId', session.session_id, device, meta);
      if (session.current) {
        const current = document.createElement('span');
        current.className = 'session-current';
        current.textContent = 'This device';
        item.appendChild(current);
      } else {
        const revoke = button('Log out', 'session-revoke secondary', 'Log out ' + device + ', ' + meta);
        onClick(revoke, async () => {
          const answer = await api('DELETE', '/api/auth/sessions/' + encodeURIComponent(session.session_id));
          if (!answer.ok && answer.status !== 404) {
            show('sessions-error', detail(answer, 'That session could not be ended.'));
            return;
          }
          await loadSessions();
        });
        item.appendChild(revoke);
      }
      list.appendChild(item);
    }
  }

  async function loadKeys() {
    const result = await api('GET', '/api/auth/api-keys');
    if (!result.ok) {
      show('api-keys-error', detail(result, 'The keys could not be loaded.'));
      return;
    }
    hide('api-keys-error');
    const list = byId('api-keys-list');
    list.textContent = '';
    for (const key of result.data) {
      const used = key.last_used_at ? 'last used ' + when(key.last_used_at) : 'never used';
      const meta = key.prefix + '… · ' + key.scopes.join(' ') + ' · ' + used;
      const item = listItem('api-key', 'apiKeyId', key.api_key_id, key.name, meta);
      const remove = button('Delete', 'api-key-delete danger', 'Delete the key ' + key.name);
      onClick(remove, async () => {
        const answer = await api('DELETE', '/api/auth/api-keys/' + encodeURIComponent(key.api_key_id));
        if (!answer.ok && answer.status !== 404) {
          show('api-keys-error', detail(answer, 'The key could not be deleted.'));
          return;
        }
        await loadKeys();
      });
      item.appendChild(remove);
      list.appendChild(item);
    }
  }

  // Two-step sign-in on /account: off (turn on: QR code, key, first code) or on (new
  // recovery codes, turn off). Recovery codes are shown once, in #recovery-codes-list.
  function renderTotp(methods) {
    byId('totp-off').hidden = methods.totp;
    byId('totp-on').hidden = !methods.totp;
    byId('recovery-codes-left').textContent = String(methods.recovery_codes_left);
  }

  function showRecoveryCodes(codes) {
    const list = byId('recovery-codes-list');
    list.textContent = '';
    for (const code of codes) {
      const item = document.createElement('li');
      const text = document.createElement('code');
      text.textContent = code;
      item.appendChild(text);
      list.appendChild(item);
    }
    // A data: URL (the page's CSP lets nothing else be fetched); `download` saves it as a file.
    byId('recovery-codes-download').href = 'data:text/plain;charset=utf-8,' + encodeURIComponent(codes.join('\n') + '\n');
    hide('recovery-codes-copied');
    byId('recovery-codes-shown').hidden = false;
  }

  async function reloadMethods() {
    const methods = await api('GET', '/api/auth/methods');
    if (methods.ok) renderTotp(methods.data);
  }

  function setUpTotp() {
    onClick(byId('totp-begin'), async () => {
      const result = await api('POST', '/api/auth/mfa/totp');
      if (!result.ok) {
        show('totp-confirm-form-error', detail(result, 'Two-step sign-in could not be started.'));
        byId('totp-enroll').hidden = false;
        return;
      }
      byId('totp-qr').src = 'data:image/svg+xml;base64,' + btoa(result.data.qr_svg);
      byId('totp-secret').textContent = result.data.secret;
      byId('totp-enroll').hidden = false;
      byId('totp-confirm-form-code').focus();
    });
    onSubmit(byId('totp-confirm-form'), async (fields) => {
      const result = await api('POST', '/api/auth/mfa/totp/confirm', { code: fields.code });
      if (result.ok) {
        byId('totp-confirm-form').reset();
        byId('totp-enroll').hidden = true;
        showRecoveryCodes(result.data.recovery_codes);
        await Promise.all([reloadMethods(), loadSessions()]);
      }
      return result;
    });
    onSubmit(byId('recovery-codes-form'), async (fields) => {
      const result = await api('POST', '/api/auth/mfa/recovery-codes', { code: fields.code });
      if (result.ok) {
        byId('recovery-codes-form').reset();
        showRecoveryCodes(result.data.recovery_codes);
        await reloadMethods();
      }
      return result;
    });
    onClick(byId('recovery-codes-copy'), async () => {
      const codes = Array.from(byId('recovery-codes-list').querySelectorAll('code'), (code) => code.textContent);
      try {
        await navigator.clipboard.writeText(codes.join('\n') + '\n');
        byId('recovery-codes-copied').hidden = false;
      } catch (error) {
        show('recovery-codes-copied', 'Copying is not allowed here: use Download, or select the codes.');
      }
    });
    onSubmit(byId('totp-disable-form'), async (fields) => {
      const result = await api('DELETE', '/api/auth/mfa/totp', { code: fields.code });
      if (result.ok) {
        byId('totp-disable-form').reset();
        byId('recovery-codes-shown').hidden = true;
        await reloadMethods();
      }
      return result;
    });
  }

  // ---- passkeys (WebAuthn) ------------------------------------------------------------------
  // The server sends the WebAuthn JSON forms of the options; the browser parses them and its
  // answer goes back as toJSON().
  function passkeysSupported() {
    return Boolean(
      window.PublicKeyCredential &&
        PublicKeyCredential.parseCreationOptionsFromJSON &&
        PublicKeyCredential.parseRequestOptionsFromJSON,
    );
  }

  function passkeyTrouble(error) {
    const name = error && error.name;
    if (name === 'NotAllowedError') return 'No passkey was used: the request was cancelled or timed out.';
    if (name === 'InvalidStateError') return 'This device already holds a passkey for your account.';
    if (name === 'SecurityError') return 'Passkeys do not work on this address.';
    return 'The passkey could not be used' + (error && error.message ? ': ' + error.message : '.');
  }

  // Asks the browser for a passkey for the started ceremony; resolves the body of the finish.
  async function requestPasskey(started, mediation, signal) {
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(started.publicKey);
    const options = { publicKey, signal };
    if (mediation) options.mediation = mediation;
    const credential = await navigator.credentials.get(options);
    return { challenge_id: started.challenge_id, credential: credential.toJSON() };
  }

  // The caller's passkeys on /account: each with Rename and Remove (never the last way in).
  async function loadPasskeys() {
    const list = byId('passkeys-list');
    if (!list) return;
    const result = await api('GET', '/api/auth/passkeys');
    if (!result.ok) {
      show('passkeys-error', detail(result, 'The passkeys could not be loaded.'));
      return;
    }
    hide('passkeys-error');
    list.textContent = '';
    if (result.data.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'empty';
      empty.textContent = 'No passkeys yet.';
      list.appendChild(empty);
    }
    for (const passkey of result.data) {
      const used = passkey.last_used_at ? 'last used ' + when(passkey.last_used_at) : 'never used';
      const meta = 'added ' + when(passkey.created_at) + ' · ' + used;
      const item = listItem('passkey', 'passkeyId', passkey.passkey_id, passkey.name, meta);
      const path = '/api/auth/passkeys/' + encodeURIComponent(passkey.passkey_id);
      const rename = button('Rename', 'passkey-rename secondary', 'Rename the passkey ' + passkey.name);
      onClick(rename, async () => {
        const input = document.createElement('input');
        input.type = 'text';
        input.className = 'passkey-rename-input';
        input.value = passkey.name;
        input.maxLength = 64;
        input.setAttribute('aria-label', 'New name for the passkey ' + passkey.name);
        const save = button('Save', 'passkey-rename-save', 'Save the new name');
        onClick(save, async () => {
          const answer = await api('PATCH', path, { name: input.value });
          if (!answer.ok) {
            const field = answer.data && Array.isArray(answer.data.errors) && answer.data.errors[0];
            show('passkeys-error', (field && field.message) || detail(answer, 'The passkey could not be renamed.'));
            return;
          }
          await loadPasskeys();
        });
        rename.replaceWith(input, save);
        input.focus();
      });
      const remove = button('Remove', 'passkey-delete danger', 'Remove the passkey ' + passkey.name);
      onClick(remove, async () => {
        const answer = await api('DELETE', path);
        if (!answer.ok && answer.status !== 404) {
          show('passkeys-error', detail(answer, 'The passkey could not be removed.'));
          return;
        }
        await loadPasskeys();
      });
      const actions = document.createElement('div');
      actions.className = 'row-actions';
      actions.append(rename, remove);
      item.appendChild(actions);
      list.appendChild(item);
    }
  }

  function setUpPasskeys() {
    const form = byId('passkey-form');
    if (!form) return; // passkeys are off on this server
    if (!passkeysSupported()) {
      form.hidden = true;
      byId('passkeys-unsupported').hidden = false;
    }
    onSubmit(form, async (fields) => {
      const started = await api('POST', '/api/auth/passkeys/register/start');
      if (!started.ok) return started;
      let credential;
      try {
        const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(started.data.publicKey);
        credential = (await navigator.credentials.create({ publicKey })).toJSON();
      } catch (error) {
        return { ok: false, status: 400, data: { detail: passkeyTrouble(error) } };
      }
      const payload = { challenge_id: started.data.challenge_id, credential };
      if (fields.name && fields.name.trim()) payload.name = fields.name;
      const result = await api('POST', '/api/auth/passkeys/register/finish', payload);
      if (result.ok) {
        form.reset();
        show('passkey-form-status', 'Passkey added: ' + result.data.name);
        await loadPasskeys();
      }
      return result;
    });
  }

  // The configured providers with the caller's linked ones: Unlink for those, Link for the
  // rest. Linking stores a flow and goes to the provider; it comes back to /account. Also
  // tells the password form whether there is a current password to type.
  async function loadIdentities() {
    const [providers, methods] = await Promise.all([api('GET', '/api/auth/providers'), api('GET', '/api/auth/methods')]);
    if (methods.ok) {
      renderTotp(methods.data);
      const current = byId('password-form-current_password');
      if (current && !methods.data.password) {
        current.closest('.field').hidden = true;
        byId('password-heading').textContent = 'Set a password';
      }
    }
    if (!providers.ok || !methods.ok) {
      byId('identities-section').hidden = false;
      show('identities-error', detail(providers.ok ? methods : providers, 'The sign-in providers could not be loaded.'));
      return;
    }
    byId('identities-section').hidden = providers.data.length === 0 && methods.data.identities.length === 0;
    hide('identities-error');
    const list = byId('identities-list');
    list.textContent = '';
    const names = {};
    for (const provider of providers.data) names[provider.id] = provider.name;
    const linked = {};
    for (const identity of methods.data.identities) linked[identity.provider] = identity;
    const ids = providers.data.map((provider) => provider.id);
    for (const id of Object.keys(linked)) if (!ids.includes(id)) ids.push(id);
    for (const id of ids) {
      const name = names[id] || id;
      const identity = linked[id];
      const meta = identity ? 'linked ' + when(identity.linked_at) + (identity.email ? ' · ' + identity.email : '') : 'not linked';
      const item = listItem('identity', 'provider', id, name, meta);
      if (identity) {
        const unlink = button('Unlink', 'identity-unlink secondary', 'Unlink ' + name);
        onClick(unlink, async () => {
          const answer = await api('DELETE', '/api/auth/identities/' + encodeURIComponent(id));
          if (!answer.ok && answer.status !== 404) {
            show('identities-error', detail(answer, 'That provider could not be unlinked.'));
            return;
          }
          await loadIdentities();
        });
        item.appendChild(unlink);
      } else if (names[id]) {
        const link = button('Link', 'identity-link', 'Link ' + name);
        onClick(link, async () => {
          const answer = await api('POST', '/api/auth/identities/' + encodeURIComponent(id), { next: '/account' });
          if (!answer.ok) {
            show('identities-error', detail(answer, 'That provider could not be linked.'));
            return;
          }
          location.assign(answer.data.authorize_url);
        });
        item.appendChild(link);
      }
      list.appendChild(item);
    }
  }

  // Passkey sign-in on /login: offered in the email field's autofill (conditional mediation,
  // where the browser has it) and by the "Sign in with a passkey" button, which first cancels
  // the autofill request (a browser runs one request at a time).
  function setUpPasskeyLogin(next) {
    const start = byId('passkey-login');
    if (!start || !passkeysSupported()) return;
    let pending = null;
    const finish = async (payload) => {
      const result = await api('POST', '/api/auth/passkeys/login/finish', payload);
      if (result.ok) {
        noteExpiry(result.data.expires_in);
        location.assign(next);
      } else {
        show('passkey-login-error', detail(result, 'That passkey was not accepted.'));
      }
    };
    const offerInAutofill = async () => {
      const available =
        PublicKeyCredential.isConditionalMediationAvailable && (await PublicKeyCredential.isConditionalMediationAvailable());
      if (!available) return;
      const started = await api('POST', '/api/auth/passkeys/login/start');
      if (!started.ok) return;
      const controller = new AbortController();
      pending = controller;
      try {
        await finish(await requestPasskey(started.data, 'conditional', controller.signal));
      } catch (error) {
        // Cancelled for the button, dismissed, or no passkey here: nothing to say.
      } finally {
        if (pending === controller) pending = null;
      }
    };
    start.hidden = false;
    onClick(start, async () => {
      hide('passkey-login-error');
      if (pending) pending.abort();
      const started = await api('POST', '/api/auth/passkeys/login/start');
      if (!started.ok) {
        show('passkey-login-error', detail(started, 'Passkey sign-in could not start. Please try again.'));
        return;
      }
      try {
        await finish(await requestPasskey(started.data));
      } catch (error) {
        show('passkey-login-error', passkeyTrouble(error));
        offerInAutofill();
      }
    });
    offerInAutofill();
  }

  // ---- pages --------------------------------------------------------------------------------
  const pages = {
    signup() {
      const form = byId('signup-form');
      onSubmit(form, async (fields) => {
        if (!fields.avatar_url) delete fields.avatar_url;
        const result = await api('POST', '/api/auth/signup', fields);
        if (result.ok) {
          // The confirmation replaces the form (and the other ways to sign up around it).
          form.reset();
          form.hidden = true;
          const card = form.closest('.card');
          for (const part of card.querySelectorAll('#provider-buttons, .divider, .aside')) part.hidden = true;
          card.querySelector('h1').textContent = 'Check your email';
          show('signup-form-status', 'Account created — we sent a verification link to ' + result.data.email + '.');
          byId('signup-login-link').focus();
        }
        return result;
      });
    },

    login() {
      const next = safeNext(param('next')) || '/account';
      // Still signed in (the refresh cookie is there): go on at once — unless a provider
      // sign-in came back with an error to read (a failed linking flow of a signed-in user).
      if (!param('error') && (cookie('csrf_token') || signedIn)) {
        refresh().then((result) => {
          if (result === true) location.replace(next);
        });
      }
      const secondStep = () => {
        byId('login-form').hidden = true;
        byId('mfa-form').hidden = false;
        byId('mfa-form-code').focus();
      };
      onSubmit(byId('login-form'), async (fields) => {
        const result = await api('POST', '/api/auth/login', fields);
        if (result.ok) {
          noteExpiry(result.data.expires_in);
          location.assign(next);
        } else if (result.status === 401 && result.data && result.data.code === 'mfa_required') {
          secondStep();
          return null;
        }
        return result;
      });
      setUpPasskeyLogin(next);
      // The second step: the mfa_token cookie holds the sign-in so far.
      onSubmit(byId('mfa-form'), async (fields) => {
        const result = await api('POST', '/api/auth/mfa/verify', { code: fields.code });
        if (result.ok) {
          noteExpiry(result.data.expires_in);
          location.assign(next);
        } else if (result.status === 401 && result.data && result.data.code === 'unauthorized') {
          result.data.detail = 'This sign-in took too long or had too many wrong codes. Please log in again.';
          byId('login-form').hidden = false;
        }
        return result;
      });
    },

    'forgot-password'() {
      onSubmit(byId('forgot-form'), async (fields) => {
        const result = await api('POST', '/api/auth/password/forgot', fields);
        if (result.ok) {
          show('forgot-form-status', 'If an account exists for that address, we sent a link to reset the password.');
        }
        return result;
      });
    },

    'reset-password'() {
      const token = param('token') || '';
      const form = byId('reset-form');
      if (!token) show('reset-form-error', 'This link is incomplete. Open the link from the email again, or ask for a new one.');
      onSubmit(form, async (fields) => {
        const result = await api('POST', '/api/auth/password/reset', { token, new_password: fields.new_password });
        if (result.ok) {
          form.reset();
          localStorage.removeItem(EXPIRY_KEY);
          show('reset-form-status', 'Password changed. You can log in now.');
          byId('reset-login-link').focus();
        }
        return result;
      });
    },

    async 'verify-email'() {
      const token = param('token') || '';
      const result = token
        ? await api('POST', '/api/auth/email/verify', { token })
        : { ok: false, status: 400, data: { detail: 'This link is incomplete. Open the link from the email again.' } };
      hide('verify-working');
      if (result.ok) {
        show('verify-status', 'Your email address is verified.');
        // A signed-in browser gets an access token that says so.
        if (cookie('csrf_token')) refresh();
      } else {
        show('verify-error', detail(result, 'This link does not work.'));
      }
    },

    async account() {
      onClick(byId('resend-verification'), async () => {
        const result = await api('POST', '/api/auth/email/resend');
        show('resend-status', result.ok ? 'We sent a new link.' : detail(result, 'Try again later.'));
      });

      onSubmit(byId('profile-form'), async (fields) => {
        const result = await api('PATCH', '/api/auth/current-user', {
          name: fields.name,
          avatar_url: fields.avatar_url ? fields.avatar_url : null,
        });
        if (result.ok) {
          renderUser(result.data);
          show('profile-form-status', 'Saved');
        }
        return result;
      });

      onSubmit(byId('password-form'), async (fields) => {
        // A first password (an account made through a provider) has no current one.
        if (!fields.current_password) delete fields.current_password;
        const result = await api('POST', '/api/auth/password/change', fields);
        if (result.ok) {
          byId('password-form').reset();
          show('password-form-status', byId('password-heading').textContent === 'Set a password' ? 'Password set' : 'Password changed');
          const current = byId('password-form-current_password');
          if (current) current.closest('.field').hidden = false;
          byId('password-heading').textContent = 'Password';
          loadSessions();
        }
        return result;
      });

      const keyForm = byId('api-key-form');
      onSubmit(keyForm, async (fields) => {
        const scopes = fields.scopes || [];
        if (scopes.length === 0) {
          fieldError(keyForm, 'scopes', 'Pick at least one scope.');
          return { ok: false, status: 422, data: { detail: 'The key needs at least one scope.' } };
        }
        const result = await api('POST', '/api/auth/api-keys', { name: fields.name, scopes });
        if (result.ok) {
          keyForm.reset();
          byId('api-key-value').textContent = result.data.key;
          byId('api-key-created').hidden = false;
          hide('api-key-copied');
          show('api-key-form-status', 'Key created');
          loadKeys();
        }
        return result;
      });

      onClick(byId('api-key-copy'), async () => {
        const value = byId('api-key-value');
        try {
          await navigator.clipboard.writeText(value.textContent);
          byId('api-key-copied').hidden = false;
        } catch (error) {
          // No clipboard access: select the key so it can be copied by hand.
          const range = document.createRange();
          range.selectNodeContents(value);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }
      });

      onClick(byId('logout-all'), async () => {
        await api('POST', '/api/auth/logout-all');
        localStorage.removeItem(EXPIRY_KEY);
        location.assign('/login');
      });
      onClick(byId('logout'), logout);

      const me = await api('GET', '/api/auth/current-user');
      if (me.ok) {
        renderUser(me.data);
      } else if (me.status === 401) {
        toLogin();
        return;
      }
      setUpTotp();
      setUpPasskeys();
      await Promise.all([loadSessions(), loadKeys(), loadIdentities(), loadPasskeys()]);
    },

    async admin() {
      const table = byId('admin-users');
      if (!table) return; // the "administrators only" page
      const rows = table.querySelector('tbody');
      const search = byId('admin-search');
      let query = '';
      let cursor = null;

      async function load(reset) {
        const params = new URLSearchParams({ limit: '50' });
        if (query) params.set('q', query);
        if (!reset && cursor) params.set('cursor', cursor);
        const result = await api('GET', '/api/admin/users?' + params.toString());
        if (!result.ok) return result;
        hide('admin-error');
        if (reset) rows.textContent = '';
        for (const user of result.data.items) rows.appendChild(userRow(user));
        cursor = result.data.next_cursor;
        byId('admin-next').hidden = !cursor;
        show('admin-status', rows.children.length === 1 ? '1 user shown' : rows.children.length + ' users shown');
        return result;
      }

      function userRow(user) {
        const row = document.createElement('tr');
        row.className = 'admin-user';
        row.dataset.userId = user.user_id;
        const isAdmin = user.roles.includes('admin');
        for (const text of [user.email, user.name, user.roles.join(', '), user.disabled ? 'Disabled' : 'Active']) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.appendChild(cell);
        }
        const actions = document.createElement('td');
        const wrap = document.createElement('div');
        wrap.className = 'row-actions';
        const toggleDisabled = button(
          user.disabled ? 'Enable' : 'Disable',
          'admin-toggle-disabled secondary',
          (user.disabled ? 'Enable ' : 'Disable ') + user.email,
        );
        onClick(toggleDisabled, () => change(row, { disabled: !user.disabled }));
        const toggleAdmin = button(
          isAdmin ? 'Remove admin' : 'Make admin',
          'admin-toggle-admin secondary',
          (isAdmin ? 'Remove the admin role from ' : 'Make an admin of ') + user.email,
        );
        const roles = isAdmin ? user.roles.filter((role) => role !== 'admin') : user.roles.concat(['admin']);
        onClick(toggleAdmin, () => change(row, { roles: roles.length ? roles : ['user'] }));
        wrap.append(toggleDisabled, toggleAdmin);
        actions.appendChild(wrap);
        row.appendChild(actions);
        return row;
      }

      async function change(row, patch) {
        const result = await api('PATCH', '/api/admin/users/' + encodeURIComponent(row.dataset.userId), patch);
        if (result.ok) {
          hide('admin-error');
          const fresh = userRow(result.data);
          row.replaceWith(fresh);
          show('admin-status', 'Saved: ' + result.data.email);
        } else {
          show('admin-error', detail(result, 'The change was refused.'));
        }
      }

      onSubmit(search, async (fields) => {
        query = (fields.q || '').trim();
        return load(true);
      });
      onClick(byId('admin-next'), async () => {
        const result = await load(false);
        if (!result.ok) show('admin-error', detail(result, 'The users could not be loaded.'));
      });
      const first = await load(true);
      if (!first.ok) show('admin-error', detail(first, 'The users could not be loaded.'));
    },
  };

  // ---- start --------------------------------------------------------------------------------
  // Brings the page and the session in line with each other before the page's own script
  // runs; false when the page is being left or reloaded.
  async function settle() {
    if (signedIn === 'true') {
      // The server verified the access cookie and said how long it has left.
      const expiresAt = Date.now() + Number(body.dataset.accessExpiresIn || 0) * 1000;
      if (expiresAt > storedExpiry() + 2000) localStorage.setItem(EXPIRY_KEY, String(expiresAt));
      schedule();
      return true;
    }
    if (page === 'login') return true; // it refreshes by itself, then goes to `next`
    const maybeSession = signedIn === 'unverified' || (page === 'home' && cookie('csrf_token'));
    if (!maybeSession) return true;
    const result = await refresh();
    if (result === true && reloadOnce()) return false;
    if (result === false && needsSession) {
      toLogin();
      return false;
    }
    return true;
  }

  // A picture that cannot be shown (gone, or plain http: under the CSP) is left out.
  const avatar = byId('account-avatar');
  if (avatar) {
    avatar.addEventListener('error', () => {
      avatar.hidden = true;
    });
    if (avatar.complete && avatar.getAttribute('src') && avatar.naturalWidth === 0) avatar.hidden = true;
  }

  const navLogout = byId('nav-logout');
  if (navLogout) onClick(navLogout, logout);

  settle().then((carryOn) => {
    const run = pages[page];
    if (carryOn && run) run();
  });
})();
