/**
 * DOM building without markup strings. Every child that is not a Node becomes a text node, so a
 * resident named `<img src=x onerror=alert(1)>` is shown as those characters, never parsed.
 *
 * @example
 * h('button', { class: 'primary', onclick: save }, '保存')
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children (nested arrays allowed); null, undefined and false are skipped. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** A label in Chinese with its English name beside it in smaller type. */
export function bilingual(zh, en) {
  return [zh, h('span', { class: 'en' }, en)];
}

export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString('zh-CN', { hour12: false });
}

let toastTimer;

/** A short message at the bottom of the screen; `kind` is 'ok' or 'error'. */
export function toast(message, kind = 'ok') {
  let box = document.getElementById('toast');
  if (!box) {
    box = h('div', { id: 'toast', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  box.className = `toast toast-${kind} visible`;
  box.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.classList.remove('visible'), 4000);
}

/** An inline error box for a form or a screen, from an ApiError or any thrown value. */
export function errorBox(error) {
  const box = h('div', { class: 'alert alert-error', role: 'alert' }, h('strong', null, error.summary ?? '出错了'));
  if (error.detail && error.detail !== error.summary) box.append(h('div', { class: 'alert-detail' }, error.detail));
  if (Array.isArray(error.errors) && error.errors.length > 0) {
    box.append(h('ul', null, error.errors.slice(0, 50).map((e) => h('li', null, describeFieldError(e)))));
  }
  return box;
}

function describeFieldError(e) {
  if (e.row !== undefined) return `第 ${e.row} 行${e.column ? ` [${e.column}]` : ''}：${e.reason ?? e.message ?? ''}`;
  return e.path ? `${e.path}: ${e.message}` : String(e.message ?? '');
}

/**
 * Wires a form's submit to an async action: disables the submit button while it runs and shows any
 * error inside the form's `.form-error` slot.
 */
export function onSubmit(form, action) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    const slot = form.querySelector('.form-error');
    slot?.replaceChildren();
    if (button) button.disabled = true;
    try {
      await action(new FormData(form));
    } catch (error) {
      if (slot) slot.replaceChildren(errorBox(error));
      else toast(error.summary ?? String(error), 'error');
    } finally {
      if (button) button.disabled = false;
    }
  });
  return form;
}

/** A labelled form field; `input` is the control element. */
export function field(zh, en, input, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, bilingual(zh, en)), input, hint ? h('span', { class: 'field-hint' }, hint) : null);
}

/**
 * A table from column definitions; `value(row)` returns text or a Node. Rows go into the returned
 * table's tbody, so callers can append more pages later with `addRows`.
 *
 * @example
 * const t = dataTable([{ zh: '房号', en: 'House', value: (r) => r.code }], items, '暂无房屋');
 */
export function dataTable(columns, rows = [], emptyText = '暂无数据 No data') {
  const tbody = h('tbody');
  const table = h(
    'table',
    null,
    h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.class, scope: 'col' }, c.zh, c.en ? h('span', { class: 'en' }, c.en) : null)))),
    tbody,
  );
  const empty = h('div', { class: 'empty' }, emptyText);
  const wrap = h('div', { class: 'table-wrap' }, table, empty);
  const addRows = (more, onRowClick) => {
    for (const row of more) {
      const tr = h('tr', null, columns.map((c) => h('td', { class: c.class }, c.value(row))));
      if (onRowClick) {
        tr.classList.add('clickable');
        tr.tabIndex = 0;
        tr.addEventListener('click', () => onRowClick(row));
        tr.addEventListener('keydown', (e) => e.key === 'Enter' && onRowClick(row));
      }
      tbody.append(tr);
    }
    empty.hidden = tbody.childElementCount > 0;
  };
  addRows(rows);
  return { element: wrap, addRows, clear: () => (tbody.replaceChildren(), (empty.hidden = false)) };
}
