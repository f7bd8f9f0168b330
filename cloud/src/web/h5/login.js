import { withQuery } from '/assets/api.js';
import { errorBox, field, h, onSubmit, toast } from '/assets/dom.js';
import { page } from './layout.js';

const PHONE = /^1\d{10}$/;

/**
 * Phone + SMS code sign-in. Outside production the development SMS outbox is readable, so the code is
 * shown on the page ("开发环境验证码") and a demo user can sign in without a real phone.
 */
export function loginScreen({ api, onLoggedIn, notice }) {
  const phone = h('input', { name: 'phone', type: 'tel', inputmode: 'numeric', autocomplete: 'tel', maxlength: 11, placeholder: '请输入手机号', required: true });
  const code = h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, placeholder: '6 位验证码', required: true });
  const send = h('button', { type: 'button', class: 'send-code' }, '获取验证码');
  const devHint = h('div', { class: 'alert alert-info dev-hint', hidden: true });
  const sendError = h('div');
  let countdown;

  send.addEventListener('click', async () => {
    sendError.replaceChildren();
    const number = phone.value.trim();
    if (!PHONE.test(number)) {
      sendError.replaceChildren(h('div', { class: 'alert alert-error', role: 'alert' }, '请输入 11 位手机号码'));
      return;
    }
    send.disabled = true;
    try {
      const sent = await api.post('/v1/auth/sms-codes', { phone: number }, { anonymous: true });
      toast('验证码已发送');
      startCountdown(sent.resendAfterSeconds ?? 60);
      code.focus();
      await showDevCode(number);
    } catch (error) {
      send.disabled = false;
      sendError.replaceChildren(errorBox(error));
    }
  });

  function startCountdown(seconds) {
    clearInterval(countdown);
    let left = Math.max(1, Math.round(seconds));
    const tick = () => {
      if (!send.isConnected || left <= 0) {
        clearInterval(countdown);
        send.disabled = false;
        send.textContent = '重新获取';
        return;
      }
      send.textContent = `${left--} 秒后重发`;
    };
    tick();
    countdown = setInterval(tick, 1000);
  }

  async function showDevCode(number) {
    try {
      const { items } = await api.get(withQuery('/v1/dev/sms-outbox', { phone: number }), { anonymous: true });
      const latest = [...items].sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)))[0];
      if (!latest) return;
      const digits = /\d{4,8}/.exec(latest.body)?.[0];
      const fill = h('button', { type: 'button', class: 'link' }, '一键填入验证码');
      fill.addEventListener('click', () => (code.value = digits ?? ''));
      devHint.replaceChildren(
        h('strong', null, '开发环境验证码', h('span', { class: 'en' }, 'Development code')),
        h('div', { class: 'dev-body' }, latest.body),
        digits ? fill : null,
      );
      devHint.hidden = false;
    } catch {
      devHint.hidden = true; // production: the outbox is not readable, the code arrives by SMS
    }
  }

  const form = h(
    'form',
    { class: 'stack', 'aria-label': '短信登录 Sign in' },
    field('手机号', 'Phone', phone),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, '验证码', h('span', { class: 'en' }, 'SMS code')), h('div', { class: 'code-row' }, code, send)),
    sendError,
    devHint,
    h('div', { class: 'form-error' }),
    h('button', { type: 'submit', class: 'primary block' }, '登录'),
  );
  onSubmit(form, async (data) => {
    const tokens = await api.post('/v1/auth/resident-login', { phone: String(data.get('phone')).trim(), code: String(data.get('code')).trim() }, { anonymous: true });
    api.startSession(tokens);
    clearInterval(countdown);
    await onLoggedIn(tokens.resident);
  });

  return page(
    { title: '住户登录' },
    h(
      'div',
      { class: 'hero' },
      h('img', { src: '/assets/icon.svg', alt: '', width: 52, height: 52 }),
      h('h2', null, '智慧社区'),
      h('p', { class: 'muted' }, '手机号验证码登录 · Sign in with your phone'),
    ),
    notice ? h('div', { class: 'alert alert-info' }, notice) : null,
    h('div', { class: 'card' }, form),
    h('p', { class: 'muted center small' }, '首次登录将自动创建账号。登录后可绑定房屋。'),
  );
}
