import { createApiClient } from '/assets/api.js';
import { h } from '/assets/dom.js';
import { NetworkError } from '/assets/problems.js';
import { billScreen, billsScreen } from './bills.js';
import { bindScreen } from './bind.js';
import { forgetResidentKeys } from './door-keys.js';
import { doorsScreen, residentDoorQrScreen } from './doors.js';
import { houseScreen } from './house.js';
import { housesScreen } from './houses.js';
import { page } from './layout.js';
import { loginScreen } from './login.js';
import { passQrScreen, passScreen } from './pass.js';

const root = document.getElementById('app');
const api = createApiClient({
  storageKey: 'estate.h5.session',
  onSessionEnded: () => {
    me = null;
    forgetMe();
    show(loginScreen({ api, onLoggedIn, notice: '登录已过期，请重新登录。' }));
  },
});

/** The signed-in resident from GET /v1/me, loaded once per sign-in. */
let me = null;
/** Whether `me` is the kept copy (no network): asked for again on the next screen. */
let meKept = false;

/**
 * The last GET /v1/me answer, kept beside the session (sessionStorage: same tab, same lifetime), so that
 * a page loaded with no network (the service worker `sw.js` serves it) still knows whose door keys to
 * show instead of sending a signed-in resident to the login form.
 */
const ME_KEY = 'estate.h5.me';

function keepMe(value) {
  try {
    sessionStorage.setItem(ME_KEY, JSON.stringify(value));
  } catch {
    // Storage disabled: offline start-up just has nothing to fall back on.
  }
}

function keptMe() {
  try {
    const value = JSON.parse(sessionStorage.getItem(ME_KEY) ?? 'null');
    return value?.kind === 'resident' && typeof value.id === 'string' ? value : null;
  } catch {
    return null;
  }
}

function forgetMe() {
  sessionStorage.removeItem(ME_KEY);
}

/** Who is signed in: GET /v1/me, or with no network the kept answer; throws when there is neither. */
async function whoAmI() {
  try {
    const fresh = await api.get('/v1/me');
    meKept = false;
    if (fresh.kind === 'resident') keepMe(fresh);
    return fresh;
  } catch (error) {
    const kept = error instanceof NetworkError ? keptMe() : null;
    if (!kept) throw error;
    meKept = true;
    return kept;
  }
}

function show(screen) {
  root.replaceChildren(screen);
  window.scrollTo(0, 0);
}

async function onLoggedIn() {
  me = null;
  forgetMe();
  if (location.hash && location.hash !== '#/') location.hash = '#/';
  else await route();
}

async function logout() {
  await api.logout();
  // The kept door keys belong to the resident, not the phone: a shared phone must not keep opening doors.
  forgetResidentKeys();
  me = null;
  forgetMe();
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
    if (!me || meKept) me = await whoAmI();
  } catch (error) {
    me = null;
    // Signed in, but no network and nothing kept: the login form could not help either.
    if (error instanceof NetworkError) return show(offlineScreen());
    return show(loginScreen({ api, onLoggedIn }));
  }
  if (me.kind !== 'resident') {
    await api.logout();
    me = null;
    forgetMe();
    return show(loginScreen({ api, onLoggedIn, notice: '员工账号请使用物业管理后台。Staff accounts use /console.' }));
  }
  const ctx = { api, me, logout };
  if (path === 'bind') return show(bindScreen(ctx));
  if (path === 'doors') return show(doorsScreen(ctx));
  const doorQr = /^doors\/([\w-]+)\/qr$/.exec(path);
  if (doorQr) return show(residentDoorQrScreen(ctx, doorQr[1]));
  const bills = /^house\/([\w-]+)\/bills(?:\/([\w-]+))?$/.exec(path);
  if (bills) return show(bills[2] ? billScreen(ctx, bills[1], bills[2]) : billsScreen(ctx, bills[1]));
  const house = /^house\/([\w-]+)$/.exec(path);
  if (house) return show(houseScreen(ctx, house[1]));
  return show(housesScreen(ctx));
}

function offlineScreen() {
  const retry = h('button', { type: 'button', class: 'primary' }, '重试');
  retry.addEventListener('click', () => void route());
  return page({ title: '智慧社区' }, h('div', { class: 'card empty' }, h('p', null, '当前无网络，无法加载'), h('p', { class: 'muted small' }, '请联网后重试。'), retry));
}

window.addEventListener('hashchange', () => void route());
route().catch((error) => root.replaceChildren(h('p', { class: 'empty' }, String(error?.summary ?? error))));

// Keeps the app shell on the phone, so this page loads with no network too (sw.js). Browsers without
// service workers (or pages not served over HTTPS) simply go without.
navigator.serviceWorker?.register('/h5/sw.js', { scope: '/h5' }).catch((error) => console.warn('service worker not registered', error));
