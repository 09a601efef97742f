// Portcullis pages: plain JavaScript, no framework. Talks to the JSON API with the cookies,
// sends X-CSRF-Token (the csrf_token cookie) on every state change, shows problem+json
// errors next to their fields, and keeps the session alive by refreshing shortly before the
// access token expires (one schedule shared by every tab through localStorage).
'use strict';

(function () {
  const EXPIRY_KEY = 'portcullis.access_expires_at';
  const page = document.body.dataset.page;

  function cookie(name) {
    const prefix = name + '=';
    for (const part of document.cookie.split(';')) {
      const trimmed = part.trim();
      if (trimmed.startsWith(prefix)) return decodeURIComponent(trimmed.slice(prefix.length));
    }
    return '';
  }

  // A same-site path, or null: starts with one "/", no backslash, no control characters.
  function safeNext(value) {
    if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//')) return null;
    if (value.includes('\\') || /[\u0000-\u001f\u007f]/.test(value)) return null;
    return value;
  }

  function toLogin() {
    localStorage.removeItem(EXPIRY_KEY);
    location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
  }

  // ---- the session: refresh before the access token expires ---------------------------
  let refreshing = null;
  let timer = null;

  function noteExpiry(expiresIn) {
    if (typeof expiresIn === 'number') {
      localStorage.setItem(EXPIRY_KEY, String(Date.now() + expiresIn * 1000));
      schedule();
    }
  }

  function refresh() {
    if (!refreshing) {
      refreshing = fetch('/api/auth/refresh', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'X-CSRF-Token': cookie('csrf_token') },
      })
        .then(async (response) => {
          if (!response.ok) {
            localStorage.removeItem(EXPIRY_KEY);
            return false;
          }
          const data = await response.json();
          noteExpiry(data.expires_in);
          return true;
        })
        .catch(() => false)
        .finally(() => {
          refreshing = null;
        });
    }
    return refreshing;
  }

  function schedule() {
    clearTimeout(timer);
    const expiresAt = Number(localStorage.getItem(EXPIRY_KEY) || 0);
    if (!expiresAt) return;
    // A minute early, spread over ten seconds so several tabs do not all go at once; a tab
    // whose neighbour already refreshed sees the later expiry and just waits again.
    const wait = Math.max(expiresAt - Date.now() - 60000 - Math.random() * 10000, 1000);
    timer = setTimeout(async () => {
      const latest = Number(localStorage.getItem(EXPIRY_KEY) || 0);
      if (latest - Date.now() > 90000) {
        schedule();
        return;
      }
      if (!(await refresh()) && document.body.dataset.signedIn === 'true') toLogin();
    }, wait);
  }
  window.addEventListener('storage', (event) => {
    if (event.key === EXPIRY_KEY) schedule();
  });

  // ---- calling the API ------------------------------------------------------------------
  async function api(method, path, body, retried) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') headers['X-CSRF-Token'] = cookie('csrf_token');
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      return { status: 0, ok: false, data: { detail: 'The server could not be reached. Check your connection.' } };
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (error) {
        data = null;
      }
    }
    if (response.status === 401 && !retried && data && data.code === 'token_expired') {
      if (await refresh()) return api(method, path, body, true);
    }
    return { status: response.status, ok: response.ok, data };
  }

  // ---- forms ------------------------------------------------------------------------------
  function byId(id) {
    return document.getElementById(id);
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

  function values(form) {
    const body = {};
    for (const element of form.elements) {
      if (!element.name || element.tagName === 'BUTTON') continue;
      if (element.type === 'checkbox') {
        if (!body[element.name]) body[element.name] = [];
        if (element.checked) body[element.name].push(element.value);
      } else {
        body[element.name] = element.value;
      }
    }
    return body;
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

  function showProblem(form, result) {
    const data = result && result.data;
    const errors = (data && Array.isArray(data.errors) && data.errors) || [];
    let first = null;
    for (const error of errors) {
      const slot = byId(form.id + '-' + error.field + '-error');
      if (!slot) continue;
      slot.textContent = error.message;
      slot.hidden = false;
      const input = byId(form.id + '-' + error.field);
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        first = first || input;
      }
    }
    show(form.id + '-error', (data && data.detail) || 'Something went wrong. Please try again.');
    if (first) first.focus();
  }

  // Runs `handler(values)` on submit with the button disabled; `handler` returns the API
  // result, and a failed one is shown on the form.
  function onSubmit(form, handler) {
    if (!form) return;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const button = form.querySelector('button[type=submit]');
      clearErrors(form);
      if (button) button.disabled = true;
      form.setAttribute('aria-busy', 'true');
      try {
        const result = await handler(values(form));
        if (result && !result.ok) showProblem(form, result);
      } finally {
        if (button) button.disabled = false;
        form.removeAttribute('aria-busy');
      }
    });
  }

  function onClick(id, handler) {
    const element = byId(id);
    if (!element) return;
    element.addEventListener('click', async () => {
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

  function when(iso) {
    const date = new Date(iso);
    return isNaN(date) ? iso : date.toLocaleString();
  }

  // ---- pages ----------------------------------------------------------------------------
  const pages = {
    home() {
      if (byId('home-signed-out')) {
        refresh().then((ok) => {
          if (ok) location.reload();
        });
      }
    },

    signup() {
      const form = byId('signup-form');
      onSubmit(form, async (body) => {
        if (!body.avatar_url) delete body.avatar_url;
        const result = await api('POST', '/api/auth/signup', body);
        if (result.ok) {
          form.reset();
          show('signup-form-status', 'Account created — we sent a verification link to ' + result.data.email + '.');
          byId('signup-login-link').focus();
        }
        return result;
      });
    },

    login() {
      const next = safeNext(new URLSearchParams(location.search).get('next')) || '/account';
      refresh().then((ok) => {
        if (ok) location.replace(next);
      });
      onSubmit(byId('login-form'), async (body) => {
        const result = await api('POST', '/api/auth/login', body);
        if (result.ok) {
          noteExpiry(result.data.expires_in);
          location.assign(next);
        }
        return result;
      });
    },

    'forgot-password'() {
      onSubmit(byId('forgot-form'), async (body) => {
        const result = await api('POST', '/api/auth/password/forgot', body);
        if (result.ok) {
          show('forgot-form-status', 'If an account exists for that address, we sent a link to reset the password.');
        }
        return result;
      });
    },

    'reset-password'() {
      const token = new URLSearchParams(location.search).get('token') || '';
      const form = byId('reset-form');
      onSubmit(form, async (body) => {
        const result = await api('POST', '/api/auth/password/reset', { token, new_password: body.new_password });
        if (result.ok) {
          form.reset();
          show('reset-form-status', 'Password changed. You can log in now.');
          byId('reset-login-link').focus();
        }
        return result;
      });
    },

    async 'verify-email'() {
      const token = new URLSearchParams(location.search).get('token') || '';
      const result = await api('POST', '/api/auth/email/verify', { token });
      hide('verify-working');
      if (result.ok) {
        show('verify-status', 'Your email address is verified.');
        refresh();
      } else {
        show('verify-error', (result.data && result.data.detail) || 'This link does not work.');
      }
    },

    async account() {
      document.body.dataset.signedIn = 'true';
      const me = await api('GET', '/api/auth/current-user');
      if (!me.ok) {
        if (!(await refresh())) return toLogin();
        return location.reload();
      }
      renderUser(me.data);
      schedule();
      loadSessions();
      loadKeys();

      onClick('resend-verification', async () => {
        const result = await api('POST', '/api/auth/email/resend');
        show('resend-status', result.ok ? 'We sent a new link to ' + me.data.email + '.' : (result.data && result.data.detail) || 'Try again later.');
      });

      onSubmit(byId('profile-form'), async (body) => {
        const result = await api('PATCH', '/api/auth/current-user', {
          name: body.name,
          avatar_url: body.avatar_url ? body.avatar_url : null,
        });
        if (result.ok) {
          renderUser(result.data);
          show('profile-form-status', 'Saved');
        }
        return result;
      });

      onSubmit(byId('password-form'), async (body) => {
        const result = await api('POST', '/api/auth/password/change', body);
        if (result.ok) {
          byId('password-form').reset();
          show('password-form-status', 'Password changed');
          loadSessions();
        }
        return result;
      });

      onSubmit(byId('api-key-form'), async (body) => {
        const result = await api('POST', '/api/auth/api-keys', { name: body.name, scopes: body.scopes || [] });
        if (result.ok) {
          byId('api-key-form').reset();
          byId('api-key-value').textContent = result.data.key;
          byId('api-key-created').hidden = false;
          hide('api-key-copied');
          show('api-key-form-status', 'Key created');
          loadKeys();
        }
        return result;
      });

      onClick('api-key-copy', async () => {
        try {
          await navigator.clipboard.writeText(byId('api-key-value').textContent);
          byId('api-key-copied').hidden = false;
        } catch (error) {
          const range = document.createRange();
          range.selectNodeContents(byId('api-key-value'));
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }
      });

      onClick('logout-all', async () => {
        await api('POST', '/api/auth/logout-all');
        localStorage.removeItem(EXPIRY_KEY);
        location.assign('/login');
      });
      onClick('logout', logout);
    },

    async admin() {
      const table = byId('admin-users');
      if (!table) return;
      const body = table.querySelector('tbody');
      let query = '';
      let cursor = null;

      async function load(reset) {
        if (reset) {
          cursor = null;
          body.textContent = '';
        }
        const params = new URLSearchParams({ limit: '50' });
        if (query) params.set('q', query);
        if (cursor) params.set('cursor', cursor);
        const result = await api('GET', '/api/admin/users?' + params.toString());
        if (!result.ok) {
          if (result.status === 401 && !(await refresh())) return toLogin();
          show('admin-error', (result.data && result.data.detail) || 'The users could not be loaded.');
          return;
        }
        hide('admin-error');
        for (const user of result.data.items) body.appendChild(userRow(user));
        cursor = result.data.next_cursor;
        byId('admin-next').hidden = !cursor;
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
        const toggleDisabled = button(user.disabled ? 'Enable' : 'Disable', 'admin-toggle-disabled secondary');
        toggleDisabled.addEventListener('click', () => change(row, { disabled: !user.disabled }));
        const toggleAdmin = button(isAdmin ? 'Remove admin' : 'Make admin', 'admin-toggle-admin secondary');
        const roles = isAdmin ? user.roles.filter((role) => role !== 'admin') : user.roles.concat(['admin']);
        toggleAdmin.addEventListener('click', () => change(row, { roles: roles.length ? roles : ['user'] }));
        wrap.append(toggleDisabled, toggleAdmin);
        actions.appendChild(wrap);
        row.appendChild(actions);
        return row;
      }

      async function change(row, patch) {
        const result = await api('PATCH', '/api/admin/users/' + encodeURIComponent(row.dataset.userId), patch);
        if (result.ok) {
          row.replaceWith(userRow(result.data));
          hide('admin-error');
        } else {
          show('admin-error', (result.data && result.data.detail) || 'The change was refused.');
        }
      }

      onSubmit(byId('admin-search'), async (values) => {
        query = (values.q || '').trim();
        await load(true);
        return { ok: true };
      });
      onClick('admin-next', () => load(false));
      await load(true);
    },
  };

  function button(text, className) {
    const element = document.createElement('button');
    element.type = 'button';
    element.className = className;
    element.textContent = text;
    return element;
  }

  function renderUser(user) {
    byId('account-name').textContent = user.name;
    byId('account-email').textContent = user.email;
    const verified = byId('account-verified');
    verified.textContent = user.email_verified ? 'Verified' : 'Not verified';
    verified.classList.toggle('ok', user.email_verified);
    byId('resend-verification').hidden = user.email_verified;
    byId('profile-form-name').value = user.name;
    byId('profile-form-avatar_url').value = user.avatar_url || '';
  }

  async function loadSessions() {
    const list = byId('sessions-list');
    const result = await api('GET', '/api/auth/sessions');
    if (!result.ok) {
      show('sessions-error', (result.data && result.data.detail) || 'The sessions could not be loaded.');
      return;
    }
    hide('sessions-error');
    list.textContent = '';
    for (const session of result.data) {
      const item = document.createElement('li');
      item.className = 'session';
      item.dataset.sessionId = session.session_id;
      const text = document.createElement('div');
      const device = document.createElement('strong');
      device.textContent = session.user_agent || 'Unknown device';
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent = (session.ip ? session.ip + ' · ' : '') + 'last active ' + when(session.last_used_at);
      text.append(device, meta);
      item.appendChild(text);
      if (session.current) {
        const current = document.createElement('span');
        current.className = 'session-current';
        current.textContent = 'This device';
        item.appendChild(current);
      } else {
        const revoke = button('Log out', 'session-revoke secondary');
        revoke.setAttribute('aria-label', 'Log out ' + device.textContent);
        revoke.addEventListener('click', async () => {
          revoke.disabled = true;
          await api('DELETE', '/api/auth/sessions/' + encodeURIComponent(session.session_id));
          loadSessions();
        });
        item.appendChild(revoke);
      }
      list.appendChild(item);
    }
  }

  async function loadKeys() {
    const list = byId('api-keys-list');
    const result = await api('GET', '/api/auth/api-keys');
    if (!result.ok) return;
    list.textContent = '';
    for (const key of result.data) {
      const item = document.createElement('li');
      item.className = 'api-key';
      item.dataset.apiKeyId = key.api_key_id;
      const text = document.createElement('div');
      const name = document.createElement('strong');
      name.textContent = key.name;
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent =
        key.prefix + '… · ' + key.scopes.join(' ') + ' · ' + (key.last_used_at ? 'last used ' + when(key.last_used_at) : 'never used');
      text.append(name, meta);
      const remove = button('Delete', 'api-key-delete danger');
      remove.setAttribute('aria-label', 'Delete the key ' + key.name);
      remove.addEventListener('click', async () => {
        remove.disabled = true;
        await api('DELETE', '/api/auth/api-keys/' + encodeURIComponent(key.api_key_id));
        loadKeys();
      });
      item.append(text, remove);
      list.appendChild(item);
    }
  }

  const navLogout = byId('nav-logout');
  if (navLogout) navLogout.addEventListener('click', logout);
  if (byId('nav-account')) {
    document.body.dataset.signedIn = 'true';
    schedule();
  }
  const run = pages[page];
  if (run) run();
})();
