import { errorBox, h } from '/assets/dom.js';

/**
 * A cursor-paged list in a table, as every list API pages (`{ items, nextCursor }`): `load(true)` starts
 * over (a new filter), the "load more" button appends the next page, and a failure shows in `message`
 * without losing what is already listed.
 *
 * @example
 * const pager = cursorPager(table, (cursor) => api.get(withQuery('/v1/audit-events', { limit: 50, cursor })));
 * void pager.load(true);
 * h('div', {}, pager.message, table.element, h('div', { class: 'pager' }, pager.more));
 */
export function cursorPager(table, fetchPage, addRows = (page) => table.addRows(page.items)) {
  const message = h('div');
  const more = h('button', { type: 'button', hidden: true }, '加载更多 Load more');
  let cursor = null;

  async function load(reset) {
    message.replaceChildren();
    more.disabled = true;
    try {
      if (reset) cursor = null;
      const page = await fetchPage(cursor);
      if (reset) table.clear();
      addRows(page);
      cursor = page.nextCursor ?? null;
      more.hidden = !cursor;
    } catch (error) {
      message.replaceChildren(errorBox(error));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => void load(false));
  return { message, more, load };
}

/**
 * A whole (unpaged) list in a table with a 刷新 button: `load()` replaces the rows, `onLoaded(items)`
 * sees them, and a failure shows in `message` without clearing what is listed.
 *
 * @example
 * const list = refreshedList(table, () => api.get('/v1/dev/sms-outbox'));
 * void list.load();
 * h('div', {}, list.refresh, list.message, table.element);
 */
export function refreshedList(table, fetchList, onLoaded = () => undefined) {
  const message = h('div');
  const refresh = h('button', { type: 'button' }, '刷新 Refresh');
  async function load() {
    refresh.disabled = true;
    message.replaceChildren();
    try {
      const { items } = await fetchList();
      table.clear();
      table.addRows(items);
      onLoaded(items);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    } finally {
      refresh.disabled = false;
    }
  }
  refresh.addEventListener('click', () => void load());
  return { message, refresh, load };
}
