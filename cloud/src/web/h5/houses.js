import { errorBox, h } from '/assets/dom.js';
import { page, roleBadge } from './layout.js';

/** Home: who is signed in, the way to the doors, and the houses they belong to. */
export function housesScreen({ api, me, logout }) {
  const list = h('div', { class: 'house-list' }, h('p', { class: 'muted center' }, '正在加载…'));
  api
    .get('/v1/me/houses')
    .then(({ items }) => list.replaceChildren(...(items.length ? items.map(houseCard) : [emptyState()])))
    .catch((error) => list.replaceChildren(errorBox(error)));

  const signOut = h('button', { type: 'button', class: 'link bar-action' }, '退出');
  signOut.addEventListener('click', () => void logout());
  return page(
    { title: '我的房屋', action: signOut },
    h(
      'section',
      { class: 'profile card' },
      h('div', { class: 'avatar', 'aria-hidden': 'true' }, (me.name || '住').slice(0, 1)),
      h('div', null, h('div', { class: 'profile-name' }, me.name || '住户'), h('div', { class: 'muted' }, me.phoneMasked)),
    ),
    h(
      'a',
      { class: 'card door-entry', href: '#/doors' },
      h('span', { class: 'door-entry-icon', 'aria-hidden': 'true' }, '门'),
      h('span', { class: 'door-entry-text' }, h('strong', null, '开门'), h('span', { class: 'muted small' }, '手机开门 · 二维码开门 · 访客通行证')),
      h('span', { class: 'chevron', 'aria-hidden': 'true' }, '›'),
    ),
    h('div', { class: 'section-head' }, h('h2', null, '我的房屋', h('span', { class: 'en' }, 'My houses')), h('a', { class: 'button primary small', href: '#/bind' }, '+ 绑定房屋')),
    list,
  );
}

function houseCard(house) {
  return h(
    'a',
    { class: 'house card', href: `#/house/${encodeURIComponent(house.houseId)}`, 'data-house-code': house.houseCode },
    h('div', { class: 'house-main' }, h('div', { class: 'house-community muted' }, house.communityName), h('div', { class: 'house-code' }, house.houseCode)),
    h(
      'div',
      { class: 'house-meta' },
      roleBadge(house.role),
      house.isPrimary ? h('span', { class: 'badge badge-brand' }, '主业主') : null,
      house.floorAreaM2 ? h('span', { class: 'muted' }, `${house.floorAreaM2} m²`) : null,
      house.role === 'tenant' && house.tenancyEnd ? h('span', { class: 'muted' }, `租期至 ${house.tenancyEnd}`) : null,
    ),
    h('span', { class: 'chevron', 'aria-hidden': 'true' }, '›'),
  );
}

function emptyState() {
  return h(
    'div',
    { class: 'card empty' },
    h('p', null, '还没有绑定房屋'),
    h('p', { class: 'muted small' }, '业主可用房号、业主姓名和身份证号绑定；家属和租客请让主业主邀请您。'),
    h('a', { class: 'button primary', href: '#/bind' }, '绑定房屋'),
  );
}
