import { errorBox, field, formatTime, h, onSubmit, toast } from '/assets/dom.js';
import { qrSvg } from '/assets/qr.js';

const DAY_MS = 24 * 3600 * 1000;
/** The API allows a pass of at most 7 days. */
const MAX_PASS_MS = 7 * DAY_MS;

/** `YYYY-MM-DDTHH:mm` in local time, what a datetime-local input holds. */
function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * Visitor passes of a house (any member): a form that makes one and shows its link and QR code once (the
 * link carries the claim secret, which the server keeps only hashed), and the list with cancel.
 */
export function visitorPassSection(api, houseId) {
  const passesPath = `/v1/me/houses/${encodeURIComponent(houseId)}/visitor-passes`;
  const list = h('div', { class: 'pass-list' }, h('p', { class: 'muted center small' }, '正在加载…'));
  const created = h('div');

  async function reload() {
    try {
      const { items } = await api.get(passesPath);
      list.replaceChildren(...(items.length ? items.map((p) => passRow(p)) : [h('div', { class: 'empty' }, '还没有访客通行证')]));
    } catch (error) {
      list.replaceChildren(errorBox(error));
    }
  }

  function passRow(pass) {
    const expired = Date.parse(pass.validUntil) <= Date.now();
    const [label, tone] = pass.revoked ? ['已取消', ''] : expired ? ['已过期', ''] : pass.used >= pass.uses ? ['已用完', ''] : pass.claimed ? ['已领取', 'badge-ok'] : ['未领取', 'badge-warn'];
    const actions = h('div', { class: 'member-actions' });
    if (!pass.revoked && !expired) {
      const cancel = h('button', { type: 'button', class: 'danger small' }, '取消通行证');
      const confirm = h('button', { type: 'button', class: 'danger small solid', hidden: true }, '确认取消');
      const keep = h('button', { type: 'button', class: 'small', hidden: true }, '保留');
      const toggle = (asking) => {
        cancel.hidden = asking;
        confirm.hidden = !asking;
        keep.hidden = !asking;
      };
      cancel.addEventListener('click', () => toggle(true));
      keep.addEventListener('click', () => toggle(false));
      confirm.addEventListener('click', async () => {
        confirm.disabled = true;
        try {
          await api.delete(`${passesPath}/${encodeURIComponent(pass.id)}`);
          toast(`已取消 ${pass.visitorName} 的通行证`);
          await reload();
        } catch (error) {
          confirm.disabled = false;
          toast([error.summary, error.detail].filter(Boolean).join('：'), 'error');
        }
      });
      actions.append(cancel, confirm, keep);
    }
    return h(
      'div',
      { class: 'pass', 'data-pass-id': pass.id },
      h(
        'div',
        { class: 'member-info' },
        h('div', { class: 'member-name' }, pass.visitorName, h('span', { class: `badge ${tone}`, 'data-state': label }, label)),
        h('div', { class: 'muted small' }, `至 ${formatTime(pass.validUntil)} · 已用 ${pass.used} / ${pass.uses} 次`),
      ),
      actions,
    );
  }

  const now = new Date();
  const until = h('input', {
    name: 'validUntil',
    type: 'datetime-local',
    required: true,
    value: localInputValue(new Date(Math.ceil((now.getTime() + DAY_MS) / 3600_000) * 3600_000)),
    min: localInputValue(now),
    max: localInputValue(new Date(now.getTime() + MAX_PASS_MS)),
  });
  const form = h(
    'form',
    { class: 'stack', 'aria-label': '访客通行证 Visitor pass' },
    field('访客姓名', 'Visitor', h('input', { name: 'visitorName', required: true, maxlength: 60, autocomplete: 'off' })),
    h(
      'div',
      { class: 'grid-2' },
      field('有效期至', 'Valid until', until, '最长 7 天'),
      field('可用次数', 'Uses', h('input', { name: 'uses', type: 'number', inputmode: 'numeric', min: 1, max: 50, value: 2, required: true }), '每开一次门计一次'),
    ),
    h('div', { class: 'form-error' }),
    h('button', { type: 'submit', class: 'primary block' }, '生成通行证'),
  );
  onSubmit(form, async (data) => {
    const validUntil = new Date(String(data.get('validUntil')));
    const body = { visitorName: String(data.get('visitorName')).trim(), validUntil: validUntil.toISOString(), uses: Number(data.get('uses')) };
    const result = await api.post(passesPath, body);
    created.replaceChildren(passLinkCard(result));
    form.reset();
    created.scrollIntoView({ block: 'center' });
    await reload();
  });

  void reload();
  return h(
    'section',
    null,
    h('div', { class: 'section-head' }, h('h2', null, '访客通行证', h('span', { class: 'en' }, 'Visitor passes'))),
    h('div', { class: 'card' }, h('p', { class: 'muted small' }, '为来访亲友生成开门链接：访客用手机打开链接即可开小区大门和本楼门禁，无需注册。'), form),
    created,
    h('section', { class: 'card flush' }, list),
  );
}

/** The new pass's link and its QR code, shown this once. */
function passLinkCard({ pass, link }) {
  const copy = h('button', { type: 'button', class: 'small' }, '复制链接');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(link);
      toast('链接已复制');
    } catch {
      toast('无法自动复制，请长按链接复制', 'error');
    }
  });
  return h(
    'section',
    { class: 'card pass-created' },
    h('div', { class: 'member-name' }, `${pass.visitorName} 的通行证`),
    h('p', { class: 'muted small' }, `有效期至 ${formatTime(pass.validUntil)}，可用 ${pass.uses} 次。链接只显示这一次，请现在发给访客，或让访客扫描下面的二维码。`),
    h('div', { class: 'qr-frame' }, qrSvg(link, { label: `${pass.visitorName} 的通行证二维码`, targetPx: 240 })),
    h('div', { class: 'pass-link' }, link),
    copy,
  );
}
