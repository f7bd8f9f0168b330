import { withQuery } from '/assets/api.js';
import { bilingual, dataTable, errorBox, field, h, onSubmit, toast } from '/assets/dom.js';
import { cursorPager } from './pager.js';
import { statusBadge } from './houses.js';

const PAGE_SIZE = 20;

/**
 * 房屋计费: the house facts billing reads, one house at a time — found by its code — with its billing
 * window (move-in / move-out: time-based fees are prorated to the days between) and its vacancies
 * (time-based fee items with a vacancy discount charge less on those days). Staff with
 * billing:configure also get the forms; the server's refusals (a vacancy ended inside a billed period,
 * overlapping vacancies) show beside the form that asked.
 */
export function houseBillingPanel({ api, community, can }) {
  const base = `/v1/communities/${encodeURIComponent(community.id)}`;
  const configure = can('billing:configure');
  let shownId = null;
  const detail = h('div', { class: 'house-billing' });

  const q = h('input', { name: 'q', type: 'search', placeholder: '房号 如 1-1-101', 'aria-label': '房号 House code', autocomplete: 'off', required: true, maxlength: 100 });
  const search = h('form', { class: 'toolbar', role: 'search', 'aria-label': '查找房屋 Find a house' }, q, h('button', { type: 'submit', class: 'primary' }, '查找 Search'));
  const table = dataTable(
    [
      { zh: '房号', en: 'House', value: (x) => h('strong', null, x.code) },
      { zh: '楼栋 / 单元', en: 'Building / unit', value: (x) => `${x.buildingName} 栋 ${x.unitName} 单元` },
      { zh: '面积 m²', en: 'Area', class: 'num', value: (x) => x.floorAreaM2 },
      { zh: '状态', en: 'Status', value: (x) => statusBadge(x.status) },
    ],
    [],
    '没有找到房屋 No houses match',
  );
  const pager = cursorPager(
    table,
    (cursor) => api.get(withQuery(`${base}/houses`, { q: q.value.trim(), limit: PAGE_SIZE, cursor })),
    (page) => {
      table.addRows(page.items, (house) => void open(house.id));
      // One house for the code typed: open it straight away.
      if (page.items.length === 1 && !page.nextCursor && page.items[0].code === q.value.trim()) void open(page.items[0].id);
    },
  );
  search.addEventListener('submit', (event) => {
    event.preventDefault();
    detail.replaceChildren();
    shownId = null;
    void pager.load(true);
  });

  async function open(houseId) {
    shownId = houseId;
    detail.replaceChildren(h('section', { class: 'card' }, h('p', { class: 'muted' }, '正在加载… Loading…')));
    try {
      const house = await api.get(`${base}/houses/${encodeURIComponent(houseId)}`);
      if (shownId !== houseId) return;
      detail.replaceChildren(houseCard(house));
    } catch (error) {
      if (shownId === houseId) detail.replaceChildren(h('section', { class: 'card' }, errorBox(error)));
    }
  }

  function houseCard(house) {
    const path = `${base}/houses/${encodeURIComponent(house.id)}`;
    return h(
      'section',
      { class: 'card', 'aria-label': `房屋计费 ${house.code}`, 'data-house-id': house.id },
      h('h2', null, `${house.code} `, statusBadge(house.status)),
      h('p', { class: 'muted small' }, `${house.buildingName} 栋 ${house.unitName} 单元 · ${house.floorAreaM2} m²`),
      windowSection(api, path, house, configure),
      vacanciesSection(api, path, configure),
    );
  }

  return h(
    'div',
    null,
    h(
      'section',
      { class: 'card', 'aria-label': '查找房屋 Find a house' },
      h('h2', null, bilingual('房屋计费', 'House billing')),
      h('p', { class: 'muted' }, '按房号查找房屋，查看并设置计费起止日（入住 / 迁出）和空置期。改动从下次出账起生效，已出账的日期不会重算。'),
      search,
      pager.message,
      table.element,
      h('div', { class: 'pager' }, pager.more),
    ),
    detail,
  );
}

/** Move-in and move-out for billing (from the house detail) and, with billing:configure, the form. */
function windowSection(api, path, house, configure) {
  const known = { billingStartsOn: house.billingStartsOn ?? null, billingEndsOn: house.billingEndsOn ?? null };
  const facts = h('dl', { class: 'facts' });
  const show = (window) => {
    const value = (date, key) => h('dd', { 'data-field': key }, date ?? '未设置（不限）');
    facts.replaceChildren(h('dt', null, '起计日（入住）'), value(window.billingStartsOn, 'billingStartsOn'), h('dt', null, '止计日（迁出）'), value(window.billingEndsOn, 'billingEndsOn'));
  };
  show(known);

  let form = null;
  if (configure) {
    const starts = h('input', { name: 'billingStartsOn', type: 'date', value: known.billingStartsOn ?? undefined });
    const ends = h('input', { name: 'billingEndsOn', type: 'date', value: known.billingEndsOn ?? undefined });
    form = h(
      'form',
      { class: 'bill-form', 'aria-label': '计费起止 Billing window' },
      h('div', { class: 'form-row' }, field('起计日（入住）', 'Move-in', starts), field('止计日（迁出）', 'Move-out', ends, '不含当天：从这天起不再计费')),
      h('p', { class: 'muted small' }, '两个日期一起保存，留空表示不限。'),
      h('div', { class: 'form-error' }),
      h('button', { type: 'submit', class: 'primary' }, '保存', h('span', { class: 'en' }, 'Save')),
    );
    onSubmit(form, async (data) => {
      const date = (name) => String(data.get(name) ?? '').trim() || null;
      const saved = await api.request(`${path}/billing-window`, { method: 'PUT', json: { billingStartsOn: date('billingStartsOn'), billingEndsOn: date('billingEndsOn') } });
      starts.value = saved.billingStartsOn ?? '';
      ends.value = saved.billingEndsOn ?? '';
      show(saved);
      toast('已保存计费起止日');
    });
  }
  return h('div', { class: 'house-window' }, h('h3', null, bilingual('计费起止', 'Billing window')), facts, form);
}

/** The house's vacancies, oldest first; with billing:configure, a form per vacancy to end it and one to add another. */
function vacanciesSection(api, path, configure) {
  const message = h('div');
  const columns = [
    { zh: '开始', en: 'Starts', value: (v) => v.startsOn },
    { zh: '结束', en: 'Ends', value: (v) => (v.endsOn ? h('span', { 'data-field': 'endsOn' }, v.endsOn) : h('span', { class: 'badge badge-warn', 'data-field': 'endsOn' }, '空置中')) },
    { zh: '备注', en: 'Note', value: (v) => v.note || '—' },
  ];
  if (configure) columns.push({ zh: '结束空置', en: 'End', value: (v) => endForm(api, path, v, load) });
  const table = dataTable(columns, [], '没有空置记录 No vacancies');

  async function load() {
    message.replaceChildren();
    try {
      const { items } = await api.get(`${path}/vacancies`);
      table.clear();
      table.addRows(items);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  }
  void load();

  return h(
    'div',
    { class: 'house-vacancies' },
    h('h3', null, bilingual('空置期', 'Vacancies')),
    h('p', { class: 'muted small' }, '空置期内，设有空置优惠的按时间计费项目（如物业费）按优惠计费；水电等按表计量的照常按用量计费。结束日为恢复入住的第一天。'),
    message,
    table.element,
    configure ? addVacancyForm(api, path, load) : null,
  );
}

function endForm(api, path, vacancy, changed) {
  const form = h(
    'form',
    { class: 'vacancy-end', 'aria-label': `结束空置 ${vacancy.startsOn} End the vacancy` },
    h('input', { name: 'endsOn', type: 'date', required: true, min: vacancy.startsOn, value: vacancy.endsOn ?? undefined, 'aria-label': '结束日期 End date' }),
    h('button', { type: 'submit' }, vacancy.endsOn ? '改结束日' : '结束', h('span', { class: 'en' }, vacancy.endsOn ? 'Change' : 'End')),
    h('div', { class: 'form-error' }),
  );
  onSubmit(form, async (data) => {
    await api.request(`${path}/vacancies/${encodeURIComponent(vacancy.id)}`, { method: 'PUT', json: { endsOn: String(data.get('endsOn')) } });
    toast('已更新空置期');
    await changed();
  });
  return form;
}

function addVacancyForm(api, path, changed) {
  const form = h(
    'form',
    { class: 'bill-form', 'aria-label': '登记空置 Add a vacancy' },
    h('h3', null, bilingual('登记空置', 'Add a vacancy')),
    h(
      'div',
      { class: 'form-row' },
      field('开始日期', 'Starts', h('input', { name: 'startsOn', type: 'date', required: true })),
      field('结束日期', 'Ends', h('input', { name: 'endsOn', type: 'date' }), '留空表示仍在空置'),
    ),
    field('备注', 'Note', h('input', { name: 'note', maxlength: 200, autocomplete: 'off', placeholder: '如：业主出国' })),
    h('div', { class: 'form-error' }),
    h('button', { type: 'submit', class: 'primary' }, '登记', h('span', { class: 'en' }, 'Add')),
  );
  onSubmit(form, async (data) => {
    const endsOn = String(data.get('endsOn') ?? '').trim();
    await api.post(`${path}/vacancies`, { startsOn: String(data.get('startsOn')), endsOn: endsOn || null, note: String(data.get('note') ?? '').trim() });
    form.reset();
    toast('已登记空置');
    await changed();
  });
  return form;
}
