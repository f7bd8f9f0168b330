import qrcode from '/assets/vendor/qrcode.mjs';

const SVG_NS = 'http://www.w3.org/2000/svg';
/** Light modules around the code, as ISO/IEC 18004 §6.3.8 asks (4 modules). */
const QUIET_ZONE = 4;

function svg(tag, attributes) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
  return el;
}

/**
 * A QR code (error correction M, byte mode) as an SVG element built through DOM calls: one path of the
 * dark modules, whole pixels per module at its natural size so a camera (or a screenshot) reads it.
 *
 * @example
 * frame.replaceChildren(qrSvg(link, { label: '访客通行证二维码' }));
 */
export function qrSvg(text, { label = '二维码', targetPx = 320 } = {}) {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const count = qr.getModuleCount();
  const size = count + 2 * QUIET_ZONE;
  const modulePx = Math.max(2, Math.floor(targetPx / size));
  let d = '';
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (!qr.isDark(row, col)) continue;
      let run = 1;
      while (col + run < count && qr.isDark(row, col + run)) run += 1;
      d += `M${col + QUIET_ZONE} ${row + QUIET_ZONE}h${run}v1h-${run}z`;
      col += run - 1;
    }
  }
  const code = svg('svg', {
    class: 'qr',
    viewBox: `0 0 ${size} ${size}`,
    width: size * modulePx,
    height: size * modulePx,
    'shape-rendering': 'crispEdges',
    role: 'img',
    'aria-label': label,
  });
  code.append(svg('rect', { width: size, height: size, fill: '#fff' }), svg('path', { d, fill: '#000' }));
  return code;
}
