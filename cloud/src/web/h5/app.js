import { createApiClient } from '/assets/api.js';
import { h } from '/assets/dom.js';
import { bindScreen } from './bind.js';
import { forgetResidentKeys } from './door-keys.js';
import { doorsScreen, residentDoorQrScreen } from './doors.js';
import { houseScreen } from './house.js';
import { housesScreen } from './houses.js';
import { loginScreen } from './login.js';
import { passQrScreen, passScreen } from './pass.js';

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
  // The kept door keys belong to the resident, not the phone: a shared phone must not keep opening doors.
  forgetResidentKeys();
  me = null;
  location.hash = '#/';
  show(loginScreen({ api, onLoggedIn, notice: '您已退出登录。' }));
}

async function route() {
  const path = location.hash.replace(/^#\/?/, '');
  // A visitor's pass link needs no login: its secret is the proof.
  const pass = /^pass\/([\w-]+\.[\w-]+)(?:\/qr\/([\w-]+))?$/.exec(path);
  if (pass) return show(pass[2] ? passQrScreen(pass[1], pass[2]) : passScreen({ api }, pass[1]));
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
  const ctx = { api, me, logout };
  if (path === 'bind') return show(bindScreen(ctx));
  if (path === 'doors') return show(doorsScreen(ctx));
  const doorQr = /^doors\/([\w-]+)\/qr$/.exec(path);
  if (doorQr) return show(residentDoorQrScreen(ctx, doorQr[1]));
  const house = /^house\/([\w-]+)$/.exec(path);
  if (house) return show(houseScreen(ctx, house[1]));
  return show(housesScreen(ctx));
}

window.addEventListener('hashchange', () => void route());
route().catch((error) => root.replaceChildren(h('p', { class: 'empty' }, String(error?.summary ?? error))));
