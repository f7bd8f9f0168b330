import { bilingual, dataTable, errorBox, h, toast } from '/assets/dom.js';

const POLL_MS = 500;

/** Roster upload (dry run or real, with progress and every bad row) and CSV export. */
export function renderRoster({ api, community, can }) {
  const base = `/v1/communities/${encodeURIComponent(community.id)}`;
  return h('div', null, can('roster:import') ? importCard(api, base) : null, can('roster:export') ? exportCard(api, base, community) : null);
}

function importCard(api, base) {
  const file = h('input', { type: 'file', name: 'file', accept: '.csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', required: true });
  const dryRun = h('input', { type: 'checkbox', name: 'dryRun', checked: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, '开始导入', h('span', { class: 'en' }, 'Upload'));
  const result = h('div', { class: 'import-result', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'import-form', 'aria-label': '导入名册 Import roster' },
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, bilingual('名册文件', 'Roster file (CSV / XLSX)')), file),
    h(
      'p',
      { class: 'muted small' },
      '每位业主一行。必填列：楼栋、单元、房号、楼层、建筑面积、业主姓名、身份证号；可选列：状态、手机号、主业主。表头可用中文或英文。',
    ),
    h('label', { class: 'check' }, dryRun, h('span', null, '仅校验，不写入', h('span', { class: 'en' }, 'Dry run: check every row, change nothing'))),
    h('p', { class: 'muted small' }, '正式导入时全部行无误才写入（全有或全无）；重复导入同一名册不会产生重复数据。'),
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) return;
    submit.disabled = true;
    const checkOnly = dryRun.checked;
    result.replaceChildren(h('p', { class: 'muted' }, '正在上传… Uploading…'));
    try {
      const job = await startImport(api, base, chosen, checkOnly);
      const view = progressView(checkOnly, chosen.name);
      result.replaceChildren(view.element);
      await follow(api, base, job, view, () => result.isConnected);
    } catch (error) {
      result.replaceChildren(errorBox(error));
    } finally {
      submit.disabled = false;
    }
  });
  return h('section', { class: 'card' }, h('h2', null, bilingual('导入名册', 'Import roster')), form, result);
}

/**
 * Uploads with `Prefer: respond-async`, so even a large file answers at once and the page shows its
 * progress. A file refused outright with an import id (rows invalid) is shown like any finished import.
 */
async function startImport(api, base, file, dryRun) {
  const data = new FormData();
  data.append('file', file, file.name);
  try {
    return await api.request(`${base}/roster-imports?dryRun=${dryRun}`, { method: 'POST', body: data, headers: { prefer: 'respond-async' } });
  } catch (error) {
    const importId = error?.problem?.importId;
    if (typeof importId !== 'string') throw error;
    return api.get(`${base}/roster-imports/${encodeURIComponent(importId)}`);
  }
}

async function follow(api, base, job, view, stillShown) {
  view.update(job);
  while (job.status === 'queued' || job.status === 'running') {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (!stillShown()) return;
    job = await api.get(`${base}/roster-imports/${encodeURIComponent(job.id)}`);
    view.update(job);
  }
  if (job.status === 'succeeded') toast(job.dryRun ? '校验通过，没有错误行' : '导入完成');
}

/** What the status badge says, which differs between a dry run and a real import. */
function statusLabel(status, dryRun) {
  switch (status) {
    case 'queued':
      return ['排队中', 'badge'];
    case 'running':
      return [dryRun ? '校验中' : '导入中', 'badge badge-brand'];
    case 'succeeded':
      return [dryRun ? '校验通过' : '导入完成', 'badge badge-ok'];
    case 'failed':
      return [dryRun ? '校验未通过' : '导入失败', 'badge badge-danger'];
    default:
      return [status, 'badge'];
  }
}

function progressView(dryRun, fileName) {
  const status = h('span');
  const bar = h('progress', { max: 1, value: 0 });
  const count = h('span', { class: 'muted' });
  const outcome = h('div');
  const summary = h('div');
  const errors = dataTable(
    [
      { zh: '行号', en: 'Row', class: 'num', value: (e) => e.row },
      { zh: '列', en: 'Column', value: (e) => e.column ?? '—' },
      { zh: '原因', en: 'Reason', value: (e) => e.reason },
    ],
    [],
    '没有错误行 No bad rows',
  );
  const errorsTitle = h('h3', { class: 'errors-title' });
  const errorsBlock = h('div', { class: 'bad-rows', hidden: true }, errorsTitle, errors.element);
  const element = h(
    'div',
    { class: 'progress-block' },
    h('div', { class: 'progress-head' }, h('strong', null, dryRun ? '校验 Dry run' : '导入 Import', '：', fileName), status),
    h('div', { class: 'progress-line' }, bar, count),
    outcome,
    errorsBlock,
    summary,
  );
  let shownErrors = 0;
  return {
    element,
    update(job) {
      const [label, tone] = statusLabel(job.status, dryRun);
      status.replaceChildren(h('span', { class: tone, 'data-status': job.status }, label));
      const total = Number(job.totalRows) || 0;
      const done = Number(job.processedRows) || 0;
      bar.max = Math.max(total, 1);
      const finished = job.status === 'succeeded' || job.status === 'failed';
      bar.value = finished ? bar.max : Math.min(done, bar.max);
      count.textContent = finished ? `共 ${total} 行 rows` : `已处理 ${done} / ${total} 行 rows`;
      const list = Array.isArray(job.errors) ? job.errors : [];
      if (list.length > shownErrors) {
        errors.addRows(list.slice(shownErrors));
        shownErrors = list.length;
      }
      errorsBlock.hidden = list.length === 0;
      errorsTitle.textContent = `错误行 ${list.length} 条 · Bad rows`;
      outcome.replaceChildren(outcomeNote(job, dryRun, list.length));
      summary.replaceChildren(job.summary ? summaryView(job.summary, dryRun) : '');
    },
  };
}

function outcomeNote(job, dryRun, badRows) {
  if (job.status === 'failed') {
    const what = badRows > 0 ? '请按下表修改名册后重新上传。' : '';
    return h(
      'div',
      { class: 'alert alert-error' },
      h('strong', null, dryRun ? `校验未通过。${what}` : `导入失败，未写入任何数据。${what}`),
      job.failure ? h('div', { class: 'alert-detail' }, job.failure) : null,
    );
  }
  if (job.status === 'succeeded') {
    return h('div', { class: 'alert alert-info' }, dryRun ? '校验通过：没有错误行，可以取消“仅校验”后正式导入。' : '导入完成。');
  }
  return '';
}

function summaryView(summary, dryRun) {
  const rows = [
    ['楼栋', 'Buildings', summary.buildings],
    ['单元', 'Units', summary.units],
    ['房屋', 'Houses', summary.houses],
    ['业主', 'Owners', summary.owners],
  ].filter(([, , counts]) => counts && typeof counts === 'object');
  if (rows.length === 0) return '';
  return h(
    'div',
    { class: 'summary' },
    h('h3', null, dryRun ? bilingual('将会变更', 'Would change') : bilingual('变更汇总', 'Changes')),
    h(
      'ul',
      { class: 'summary-list' },
      rows.map(([zh, en, counts]) =>
        h(
          'li',
          null,
          h('strong', null, bilingual(zh, en)),
          ' ',
          Object.entries(counts)
            .map(([k, v]) => `${COUNT_WORDS[k] ?? k} ${v}`)
            .join(' · '),
        ),
      ),
    ),
  );
}

const COUNT_WORDS = { created: '新增', updated: '更新', unchanged: '未变', existing: '已有' };

function exportCard(api, base, community) {
  const button = h('button', { type: 'button' }, '下载 CSV', h('span', { class: 'en' }, 'Download'));
  const message = h('div');
  button.addEventListener('click', async () => {
    button.disabled = true;
    message.replaceChildren();
    try {
      const res = await api.request(`${base}/roster-export.csv`, { raw: true });
      const blob = await res.blob();
      const name = /filename="?([^";]+)"?/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `roster-${community.code}.csv`;
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return h(
    'section',
    { class: 'card' },
    h('h2', null, bilingual('导出名册', 'Export roster')),
    h('p', { class: 'muted' }, '导出本社区的楼栋、单元、房屋与业主名册；每次导出都会记入审计日志。'),
    button,
    message,
  );
}
