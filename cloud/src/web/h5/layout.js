import { h } from '/assets/dom.js';

export const MEMBER_ROLES = { owner: ['业主', 'badge-brand'], family: ['家属', 'badge-ok'], tenant: ['租客', 'badge-warn'] };

export function roleBadge(role) {
  const [label, tone] = MEMBER_ROLES[role] ?? [role, ''];
  return h('span', { class: `badge ${tone}`, 'data-role': role }, label);
}

/** A phone screen: a title bar (with a back link when `back` is given) above the content. */
export function page({ title, back, action }, ...content) {
  return h(
    'div',
    { class: 'page' },
    h(
      'header',
      { class: 'bar' },
      back ? h('a', { class: 'bar-back', href: back, 'aria-label': '返回 Back' }, '‹ 返回') : h('span', { class: 'bar-back' }),
      h('h1', { class: 'bar-title' }, title),
      action ?? h('span', { class: 'bar-action' }),
    ),
    h('main', { class: 'content' }, content),
  );
}
