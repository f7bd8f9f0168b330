import { errorBox, field, h, onSubmit, toast } from '/assets/dom.js';
import { billingCard } from './bills.js';
import { page, roleBadge } from './layout.js';
import { visitorPassSection } from './visitor-passes.js';

/**
 * One house: its members, and for the primary owner the invite form and a remove button per member.
 * Removing a member ends their access to the house everywhere (keys, bills, doors). Any member sees
 * what the house owes (the 账单 card, to the bills) and makes visitor passes here.
 */
export function houseScreen({ api, me }, houseId) {
  const summary = h('section', { class: 'card house-summary' }, h('p', { class: 'muted' }, '正在加载…'));
  const members = h('div', { class: 'member-list' });
  const invite = h('div');
  const passes = h('div');
  const billing = h('div');
  const membersPath = `/v1/me/houses/${encodeURIComponent(houseId)}/members`;

  async function loadMembers(canManage) {
    try {
      const { items } = await api.get(membersPath);
      members.replaceChildren(...(items.length ? items.map((m) => memberRow(m, canManage)) : [h('div', { class: 'empty' }, '暂无成员')]));
    } catch (error) {
      members.replaceChildren(errorBox(error));
    }
  }

  function memberRow(member, canManage) {
    const actions = h('div', { class: 'member-actions' });
    const isMe = member.residentId === me.id;
    // The primary owner removes others; anyone else may leave the house themselves.
    if (!member.isPrimary && (canManage || isMe)) {
      const remove = h('button', { type: 'button', class: 'danger small' }, isMe ? '退出房屋' : '移除');
      const confirm = h('button', { type: 'button', class: 'danger small solid', hidden: true }, isMe ? '确认退出' : '确认移除');
      const cancel = h('button', { type: 'button', class: 'small', hidden: true }, '取消');
      const toggle = (asking) => {
        remove.hidden = asking;
        confirm.hidden = !asking;
        cancel.hidden = !asking;
      };
      remove.addEventListener('click', () => toggle(true));
      cancel.addEventListener('click', () => toggle(false));
      confirm.addEventListener('click', async () => {
        confirm.disabled = true;
        try {
          await api.delete(`${membersPath}/${encodeURIComponent(member.memberId)}`);
          if (isMe) {
            toast('您已退出该房屋');
            location.hash = '#/';
            return;
          }
          toast(`已移除 ${member.name ?? ''}`);
          await loadMembers(canManage);
        } catch (error) {
          confirm.disabled = false;
          toast(error.detail ?? error.summary ?? String(error), 'error');
        }
      });
      actions.append(remove, confirm, cancel);
    }
    return h(
      'div',
      { class: 'member', 'data-member-id': member.memberId },
      h(
        'div',
        { class: 'member-info' },
        h(
          'div',
          { class: 'member-name' },
          member.name || '未填写姓名',
          isMe ? h('span', { class: 'muted small' }, '（我）') : null,
          roleBadge(member.role),
          member.isPrimary ? h('span', { class: 'badge badge-brand' }, '主业主') : null,
        ),
        h('div', { class: 'muted small' }, member.phoneMasked, member.role === 'tenant' && member.tenancyStart ? ` · 租期 ${member.tenancyStart} 至 ${member.tenancyEnd}` : ''),
      ),
      actions,
    );
  }

  api
    .get('/v1/me/houses')
    .then(({ items }) => {
      const house = items.find((x) => x.houseId === houseId);
      if (!house) {
        summary.replaceChildren(h('div', { class: 'empty' }, '您已不是该房屋的成员。'));
        return;
      }
      summary.replaceChildren(
        h('div', { class: 'muted' }, house.communityName),
        h('div', { class: 'house-code' }, house.houseCode),
        h('div', { class: 'house-meta' }, roleBadge(house.role), house.isPrimary ? h('span', { class: 'badge badge-brand' }, '主业主') : null, house.floorAreaM2 ? h('span', { class: 'muted' }, `${house.floorAreaM2} m²`) : null),
      );
      const canManage = house.isPrimary === true;
      if (canManage) invite.replaceChildren(inviteForm(api, membersPath, () => loadMembers(true)));
      billing.replaceChildren(billingCard(api, houseId));
      passes.replaceChildren(visitorPassSection(api, houseId));
      return loadMembers(canManage);
    })
    .catch((error) => summary.replaceChildren(errorBox(error)));

  return page(
    { title: '房屋成员', back: '#/' },
    summary,
    billing,
    h('div', { class: 'section-head' }, h('h2', null, '家庭成员与租客', h('span', { class: 'en' }, 'Members'))),
    h('section', { class: 'card flush' }, members),
    invite,
    passes,
  );
}

function inviteForm(api, membersPath, reload) {
  const role = h('select', { name: 'role' }, h('option', { value: 'family' }, '家属 Family'), h('option', { value: 'tenant' }, '租客 Tenant'));
  const start = h('input', { name: 'tenancyStart', type: 'date' });
  const end = h('input', { name: 'tenancyEnd', type: 'date' });
  const tenancy = h('div', { class: 'grid-2', hidden: true }, field('租期开始', 'From', start), field('租期结束', 'Until', end));
  const syncRole = () => {
    const isTenant = role.value === 'tenant';
    tenancy.hidden = !isTenant;
    start.required = isTenant;
    end.required = isTenant;
  };
  role.addEventListener('change', syncRole);
  const form = h(
    'form',
    { class: 'stack', 'aria-label': '邀请成员 Invite a member' },
    field('手机号', 'Phone', h('input', { name: 'phone', type: 'tel', inputmode: 'numeric', maxlength: 11, required: true })),
    field('姓名', 'Name', h('input', { name: 'name', required: true, maxlength: 50 })),
    field('身份', 'Role', role),
    tenancy,
    h('div', { class: 'form-error' }),
    h('button', { type: 'submit', class: 'primary block' }, '发送邀请'),
  );
  onSubmit(form, async (data) => {
    const body = { phone: String(data.get('phone')).trim(), name: String(data.get('name')).trim(), role: data.get('role') };
    if (body.role === 'tenant') Object.assign(body, { tenancyStart: data.get('tenancyStart'), tenancyEnd: data.get('tenancyEnd') });
    await api.post(membersPath, body);
    toast(`已添加 ${body.name}`);
    form.reset();
    syncRole();
    await reload();
  });
  return h(
    'section',
    null,
    h('div', { class: 'section-head' }, h('h2', null, '邀请成员', h('span', { class: 'en' }, 'Invite'))),
    h('div', { class: 'card' }, h('p', { class: 'muted small' }, '被邀请人用该手机号登录后即可看到此房屋。'), form),
  );
}
