import { errorBox, field, h, toast } from '/assets/dom.js';
import { amountRow, lastDay } from '/assets/bill-format.js';

const MONTH_CHOICES = [1, 3, 6, 12, 24];
const DEFAULT_MONTHS = 12;

/**
 * 预缴: pay a monthly fee (the property fee of `line`'s fee item) months ahead. Shows the server's quote
 * (every month it covers, the free months of the community's offer — "prepay 12, get 1 free" — and the
 * total), then on confirmation makes the prepayment bill and hands it to `onCreated`.
 */
export function prepayPanel(api, houseId, line, onCreated) {
  const path = `/v1/me/houses/${encodeURIComponent(houseId)}/prepayments`;
  const months = h('select', { name: 'months' }, MONTH_CHOICES.map((n) => h('option', { value: n, selected: n === DEFAULT_MONTHS }, `${n} 个月`)));
  const quoteBox = h('div', { class: 'quote', 'aria-live': 'polite' });
  let asked = 0;

  async function requote() {
    const mine = ++asked;
    const body = { feeItemId: line.feeItemId, months: Number(months.value) };
    quoteBox.replaceChildren(h('p', { class: 'muted small' }, '正在计算…'));
    try {
      const quote = await api.post(`${path}/quote`, body);
      if (mine === asked) quoteBox.replaceChildren(...quoteView(quote, () => confirm(body)));
    } catch (error) {
      if (mine === asked) quoteBox.replaceChildren(errorBox(error));
    }
  }

  async function confirm(body) {
    const button = quoteBox.querySelector('button.primary');
    if (button) button.disabled = true;
    try {
      const created = await api.post(path, body);
      toast(`已生成预缴账单 ${created.number}`);
      onCreated(created);
    } catch (error) {
      if (button) button.disabled = false;
      quoteBox.append(errorBox(error));
    }
  }

  months.addEventListener('change', () => void requote());
  void requote();
  const feeName = line.description.split(' ')[0];
  return h(
    'section',
    { class: 'prepay', 'aria-label': `预缴${feeName}` },
    h('div', { class: 'prepay-title' }, `预缴${feeName}`),
    field('预缴月数', 'Months', months),
    quoteBox,
  );
}

const monthOf = (date) => date.slice(0, 7);

function quoteView(quote, onConfirm) {
  const first = quote.periods[0];
  const last = quote.periods.at(-1);
  const covered = quote.periods.length;
  const confirm = h('button', { type: 'button', class: 'primary block' }, `确认预缴 ${quote.total.display}`);
  confirm.addEventListener('click', () => void onConfirm());
  return [
    h(
      'p',
      { class: 'quote-summary' },
      `预缴 ${quote.months} 个月`,
      quote.freeMonths > 0 ? `，赠送 ${quote.freeMonths} 个月` : '',
      `，共 ${covered} 个月`,
      first ? `（${monthOf(first.start)} 至 ${monthOf(lastDay(last.end))}）` : '',
    ),
    h(
      'ul',
      { class: 'quote-months' },
      quote.periods.map((p) =>
        h(
          'li',
          { class: p.free ? 'quote-free' : null, 'data-free': p.free ? '' : null },
          h('span', null, monthOf(p.start)),
          p.free ? h('span', { class: 'badge badge-ok' }, '赠送') : null,
          h('span', { class: 'quote-amount' }, p.amount.display),
        ),
      ),
    ),
    amountRow(`${covered} 个月费用`, quote.charge.display),
    quote.discount.fen !== 0 ? amountRow('赠送减免', quote.discount.display) : null,
    amountRow('应付合计', quote.total.display, { class: 'amount-row amount-total', 'data-quote-total': quote.total.display }),
    h('p', { class: 'muted small' }, '确认后生成一张预缴账单，所含月份以后不再另行出账。'),
    confirm,
  ];
}
