// Building DOM nodes safely: text always goes in as text (textContent / text nodes), never as HTML.
// No module of the console uses innerHTML, outerHTML, insertAdjacentHTML or document.write.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setAttributes(node, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) throw new Error(`event handlers are added with addEventListener, not ${name}`);
    if (name === "class") node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

/** `h("p", {class: "x"}, "text", child)`: an HTML element whose strings become text nodes. */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attrs);
  return append(node, children);
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attrs);
  return append(node, children);
}

/** Replace every child of `node` by `children`. */
export function fill(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

export function money(value) {
  const n = Number(value) || 0;
  if (n === 0) return "$0";
  if (n >= 0.01) return `$${n.toFixed(4)}`;
  // under a cent: 6 decimals, more for a smaller amount (two significant digits, to the pico-dollar), so that a cost
  // under half a micro-dollar (a cheap judge on a short answer) is not shown as $0.000000
  const decimals = Math.min(12, Math.max(6, 1 - Math.floor(Math.log10(n))));
  return `$${n.toFixed(decimals)}`;
}

/**
 * A score out of 10 to two decimals at most, cut rather than rounded, and one at least ("9.0", "8.96", "7.33"):
 * rounded to one, 8.96 read "9.0/10" under a threshold of 9 that it had missed, and the run went on refining.
 */
function scoreText(value) {
  const cut = Math.floor(Number(value) * 100 + 1e-6) / 100;
  return cut.toFixed(2).replace(/(\.\d)0$/, "$1");
}

export function score(value) {
  return value === null || value === undefined ? "—" : `${scoreText(value)}/10`;
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso.endsWith("Z") || /[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

const GRAPHEMES = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** `text` on one line, cut to `width` characters with "…": counted and cut by character as a reader sees one (a
 * grapheme), never inside one. Cut by code point, a flag (two regional indicators) showed half of itself as a lone
 * letter, a family emoji (joined by U+200D) its first member only, and "é" written e + U+0301 lost its accent. */
export function shorten(text, width = 80) {
  const raw = String(text ?? "");
  // Only the start of a long text is read: a 5 MB prompt, flattened and split into graphemes whole at every event of
  // its session (the title, the list of runs, the charts, the threads: a second and more each), froze the page. Its
  // first `16 × width` UTF-16 units hold the characters shown, unless most are spaces or marks (then all is read).
  if (raw.length > 16 * width) {
    const cut = cutAt(raw.slice(0, 16 * width).replace(/\s+/g, " ").trimStart(), width);
    if (cut !== null) return cut;
  }
  const flat = raw.replace(/\s+/g, " ").trim();
  return flat.length <= width ? flat : (cutAt(flat, width) ?? flat);
}

/** The first `width - 1` characters of `flat` and "…" when it has more than `width` characters, else null. */
function cutAt(flat, width) {
  const chars = [];
  for (const { segment } of GRAPHEMES.segment(flat)) {
    if (chars.length === width) return `${chars.slice(0, width - 1).join("")}…`;
    chars.push(segment);
  }
  return null;
}
