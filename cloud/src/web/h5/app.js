import { createApiClient } from '/assets/api.js';
import { h } from '/assets/dom.js';
import { bindScreen } from './bind.js';
import { houseScreen } from './house.js';
import { housesScreen } from './houses.js';
import { loginScreen } from './login.js';

const root = document.getElementById('app');
const api = createApiClient({
  storageKey: 'estate.h5.session',
  onSessionEnded: () => {
    me = null;
    show(loginScreen({ api, onLoggedIn, notice: '登录已过期，请重新登录。' }));
  },
});

/** The signed-in resident from GET /v1/me, loaded once per sign-in. */
let me = null;

function show(screen) {
  root.replaceChildren(screen);
  window.scrollTo(0, 0);
}

async function onLoggedIn() {
  me = null;
  if (location.hash && location.hash !== '#/') location.hash = '#/';
  else await route();
}

async function logout() {
  await api.logout();
  me = null;
  location.hash = '#/';
  show(loginScreen({ api, onLoggedIn, notice: '您已退出登录。' }));
}

async function route() {
  if (!api.hasSession()) return show(loginScreen({ api, onLoggedIn }));
  try {
    me ??= await api.get('/v1/me');
  } catch {
    me = null;
    return show(loginScreen({ api, onLoggedIn }));
  }
  if (me.kind !== 'resident') {
    await api.logout();
    me = null;
    return show(loginScreen({ api, onLoggedIn, notice: '员工账号请使用物业管理后台。Staff accounts use /console.' }));
  }
  const path = location.hash.replace(/^#\/?/, '');
  const ctx = { api, me, logout };
  if (path === 'bind') return show(bindScreen(ctx));
  const house = /^house\/([\w-]+)$/.exec(path);
  if (house) return show(houseScreen(ctx, house[1]));
  return show(housesScreen(ctx));
}

window.addEventListener('hashchange', () => void route());
route().catch((error) => root.replaceChildren(h('p', { class: 'empty' }, String(error?.summary ?? error))));
