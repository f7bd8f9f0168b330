import { h } from '/assets/dom.js';

/**
 * A button whose action cannot be undone: the first click asks (`question`, 确认 / 取消) in place of
 * the button, the second runs `action`. No browser dialog, so nothing blocks the page.
 *
 * @example
 * confirmButton({ label: ['出账', 'Post'], tone: 'primary', question: '确认出账？', confirm: '确认出账', action: post })
 */
export function confirmButton({ label: [zh, en], tone = '', question, confirm, action }) {
  const start = h('button', { type: 'button', class: `${tone} confirm-start` }, zh, h('span', { class: 'en' }, en));
  const yes = h('button', { type: 'button', class: tone === 'danger' ? 'danger' : 'primary' }, confirm);
  const no = h('button', { type: 'button' }, '取消 Cancel');
  const wrap = h('span', { class: 'confirm-wrap' }, start, h('span', { class: 'confirm-inline', role: 'group', 'aria-label': question }, h('span', { class: 'confirm-question' }, question), yes, no));
  // The wrapper's `asking` class swaps the button for the question (console.css).
  const asking = (on) => wrap.classList.toggle('asking', on);
  start.addEventListener('click', () => asking(true));
  no.addEventListener('click', () => asking(false));
  yes.addEventListener('click', async () => {
    yes.disabled = no.disabled = true;
    try {
      await action();
    } finally {
      yes.disabled = no.disabled = false;
      asking(false);
    }
  });
  return wrap;
}
