import { field, h, onSubmit, toast } from '/assets/dom.js';
import { page } from './layout.js';

/** Binding a house as its owner: the house number, owner name and ID number must match the roster. */
export function bindScreen({ api }) {
  const community = h('select', { name: 'communityId', required: true }, h('option', { value: '' }, '正在加载小区…'));
  api
    .get('/v1/public/communities', { anonymous: true })
    .then(({ items }) => {
      community.replaceChildren(h('option', { value: '' }, '请选择小区'), ...items.map((c) => h('option', { value: c.id }, c.name)));
      if (items.length === 1) community.value = items[0].id;
    })
    .catch(() => community.replaceChildren(h('option', { value: '' }, '小区列表加载失败，请刷新')));

  const form = h(
    'form',
    { class: 'stack', 'aria-label': '绑定房屋 Bind a house' },
    field('小区', 'Community', community),
    field('房号', 'House', h('input', { name: 'houseCode', required: true, autocomplete: 'off', placeholder: '楼栋-单元-房号，如 1-1-301' })),
    field('业主姓名', 'Owner name', h('input', { name: 'ownerName', required: true, autocomplete: 'name', maxlength: 50 })),
    field('业主身份证号', 'ID number', h('input', { name: 'idNumber', required: true, autocomplete: 'off', maxlength: 18, spellcheck: 'false' }), '仅用于与物业登记的业主信息核对，加密保存。'),
    h('div', { class: 'form-error' }),
    h('button', { type: 'submit', class: 'primary block' }, '确认绑定'),
  );
  onSubmit(form, async (data) => {
    await api.post('/v1/me/house-bindings', {
      communityId: data.get('communityId'),
      houseCode: String(data.get('houseCode')).trim(),
      ownerName: String(data.get('ownerName')).trim(),
      idNumber: String(data.get('idNumber')).trim().toUpperCase(),
    });
    toast('绑定成功');
    location.hash = '#/';
  });
  return page(
    { title: '绑定房屋', back: '#/' },
    h('div', { class: 'alert alert-info' }, '请填写物业登记的业主信息。多次核对失败将暂时锁定绑定。'),
    h('div', { class: 'card' }, form),
  );
}
