import { dataTable, errorBox, formatTime, h } from '/assets/dom.js';

/** Messages the development SMS provider kept instead of sending. */
export function renderSmsOutbox({ api }) {
  const table = dataTable(
    [
      { zh: '时间', en: 'At', value: (m) => formatTime(m.createdAt) },
      { zh: '手机号', en: 'Phone', value: (m) => m.phoneMasked },
      { zh: '内容', en: 'Message', value: (m) => m.body },
    ],
    [],
    '发件箱为空 The outbox is empty',
  );
  const message = h('div');
  const refresh = h('button', { type: 'button' }, '刷新 Refresh');
  async function load() {
    refresh.disabled = true;
    message.replaceChildren();
    try {
      const { items } = await api.get('/v1/dev/sms-outbox');
      table.clear();
      table.addRows(items);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    } finally {
      refresh.disabled = false;
    }
  }
  refresh.addEventListener('click', () => void load());
  void load();
  return h(
    'div',
    { class: 'card' },
    h('div', { class: 'toolbar' }, h('p', { class: 'muted grow' }, '开发环境的短信不会真正发出，而是保存在这里。Development SMS are kept here, not sent.'), refresh),
    message,
    table.element,
  );
}
