import { createApiClient, withQuery } from '/assets/api.js';
import { bilingual, field, h, onSubmit } from '/assets/dom.js';
import { renderAudit } from './audit.js';
import { renderBilling } from './billing.js';
import { renderDoors } from './doors.js';
import { renderFeeBasis } from './fee-basis.js';
import { renderHouses } from './houses.js';
import { renderRoster } from './roster.js';
import { renderSmsOutbox } from './sms-outbox.js';

export const ROLE_LABELS = {
  super_admin: '超级管理员',
  finance: '财务',
  customer_service: '客服',
  technician: '维修技术员',
  gate_guard: '门岗',
};

/**
 * The console's screens. A screen is offered only when the staff member's permissions (from GET /v1/me)
 * allow it; the API enforces the same rule, this only keeps the menu honest.
 */
const SCREENS = [
  { id: 'houses', zh: '房屋', en: 'Houses', needs: ['community:read'], scoped: true, render: renderHouses },
  { id: 'roster', zh: '名册导入导出', en: 'Roster', needs: ['roster:import', 'roster:export'], scoped: true, render: renderRoster },
  { id: 'fee-basis', zh: '收费基础', en: 'Fee basis', needs: ['finance:read'], scoped: true, render: renderFeeBasis },
  { id: 'billing', zh: '账单', en: 'Billing', needs: ['billing:read'], scoped: true, render: renderBilling },
  { id: 'doors', zh: '门禁', en: 'Doors', needs: ['door:read'], scoped: true, render: renderDoors },
  { id: 'audit', zh: '审计日志', en: 'Audit log', needs: ['audit:read'], scoped: false, render: renderAudit },
  { id: 'sms-outbox', zh: '短信发件箱', en: 'SMS outbox', needs: ['sms-outbox:read'], scoped: false, render: renderSmsOutbox },
];

const COMMUNITY_KEY = 'estate.console.community';
const root = document.getElementById('app');
const api = createApiClient({
  storageKey: 'estate.console.session',
  onSessionEnded: () => showLogin('登录已过期，请重新登录。Your session has ended, please sign in again.'),
});

/** { me, communities, communityId, screens } while signed in. */
let state = null;

function brand() {
  return h('div', { class: 'brand' }, h('img', { src: '/assets/icon.svg', alt: '', width: 28, height: 28 }), h('span', null, '智慧社区', h('small', null, '物业管理后台')));
}

function showLogin(notice) {
  state = null;
  const form = h(
    'form',
    { class: 'login-form', 'aria-label': '员工登录 Staff sign in' },
    field('用户名', 'Username', h('input', { name: 'username', autocomplete: 'username', required: true, autofocus: true })),
    field('密码', 'Password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('div', { class: 'form-error' }),
    h('button', { type: 'submit', class: 'primary block' }, '登录', h('span', { class: 'en' }, 'Sign in')),
  );
  onSubmit(form, async (data) => {
    const tokens = await api.post('/v1/auth/staff-login', { username: data.get('username'), password: data.get('password') }, { anonymous: true });
    api.startSession(tokens);
    await enter();
  });
  root.replaceChildren(
    h(
      'div',
      { class: 'login-page' },
      h(
        'div',
        { class: 'login-card card' },
        brand(),
        h('h1', null, bilingual('员工登录', 'Staff sign in')),
        notice ? h('div', { class: 'alert alert-info' }, notice) : null,
        form,
      ),
      h('p', { class: 'muted login-foot' }, h('a', { href: '/' }, '返回首页 Home'), ' · ', h('a', { href: '/h5' }, '住户端 Resident app')),
    ),
  );
  form.querySelector('input')?.focus();
}

async function enter() {
  const me = await api.get('/v1/me');
  if (me.kind !== 'staff') {
    await api.logout();
    return showLogin('这是住户账号，请使用住户端。This account is a resident account.');
  }
  const { items: communities } = await api.get(withQuery('/v1/communities', { limit: 200 }));
  const saved = sessionStorage.getItem(COMMUNITY_KEY);
  const permissions = new Set(me.permissions ?? []);
  state = {
    me,
    communities,
    communityId: communities.some((c) => c.id === saved) ? saved : communities[0]?.id,
    permissions,
    screens: SCREENS.filter((s) => s.needs.some((p) => permissions.has(p))),
  };
  renderShell();
}

function renderShell() {
  const { me, communities } = state;
  const nav = h(
    'nav',
    { class: 'nav', 'aria-label': '功能 Screens' },
    state.screens.map((s) => h('a', { href: `#${s.id}`, 'data-screen': s.id }, h('span', null, s.zh), h('span', { class: 'en' }, s.en))),
  );
  const picker = h(
    'select',
    { 'aria-label': '社区 Community', class: 'community-picker' },
    communities.map((c) => h('option', { value: c.id }, `${c.name}（${c.code}）`)),
  );
  picker.value = state.communityId ?? '';
  picker.disabled = communities.length === 0;
  picker.addEventListener('change', () => {
    state.communityId = picker.value;
    sessionStorage.setItem(COMMUNITY_KEY, picker.value);
    renderScreen();
  });
  const logout = h('button', { type: 'button', class: 'logout' }, '退出登录', h('span', { class: 'en' }, 'Sign out'));
  logout.addEventListener('click', async () => {
    logout.disabled = true;
    await api.logout();
    sessionStorage.removeItem(COMMUNITY_KEY);
    showLogin('您已退出登录。You have signed out.');
  });
  root.replaceChildren(
    h(
      'div',
      { class: 'shell' },
      h('aside', { class: 'sidebar' }, brand(), nav),
      h(
        'div',
        { class: 'main' },
        h(
          'header',
          { class: 'topbar' },
          h('label', { class: 'community' }, h('span', { class: 'muted' }, '当前社区'), picker),
          h(
            'div',
            { class: 'who' },
            h('span', { class: 'who-name' }, me.displayName || me.username),
            h('span', { class: 'badge badge-brand', 'data-role': me.role }, ROLE_LABELS[me.role] ?? me.role),
            logout,
          ),
        ),
        h('main', { id: 'screen', class: 'screen' }),
      ),
    ),
  );
  renderScreen();
}

function renderScreen() {
  if (!state) return;
  const wanted = location.hash.slice(1);
  const screen = state.screens.find((s) => s.id === wanted) ?? state.screens[0];
  for (const link of document.querySelectorAll('.nav a')) link.classList.toggle('active', link.dataset.screen === screen?.id);
  const target = document.getElementById('screen');
  if (!screen) {
    target.replaceChildren(h('div', { class: 'card empty' }, '您的角色没有可用的功能。Your role has no screens here.'));
    return;
  }
  const community = state.communities.find((c) => c.id === state.communityId);
  const heading = h('h1', null, bilingual(screen.zh, screen.en));
  if (screen.scoped && !community) {
    target.replaceChildren(heading, h('div', { class: 'card empty' }, '您尚未被分配到任何社区。You are not assigned to any community.'));
    return;
  }
  const ctx = { api, me: state.me, community, can: (permission) => state.permissions.has(permission) };
  target.replaceChildren(heading, screen.render(ctx));
}

window.addEventListener('hashchange', renderScreen);

if (api.hasSession()) enter().catch(() => showLogin());
else showLogin();
