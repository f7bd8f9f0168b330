import { dataTable, formatTime, h } from '/assets/dom.js';
import { refreshedList } from './pager.js';

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
  const list = refreshedList(table, () => api.get('/v1/dev/sms-outbox'));
  void list.load();
  return h(
    'div',
    { class: 'card' },
    h('div', { class: 'toolbar' }, h('p', { class: 'muted grow' }, '开发环境的短信不会真正发出，而是保存在这里。Development SMS are kept here, not sent.'), list.refresh),
    list.message,
    table.element,
  );
}
