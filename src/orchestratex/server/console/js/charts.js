// Per-session charts as hand-written SVG: each orchestration's cost (bars) and final score (points).

import { fill, h, money, s, score } from "./dom.js";

const W = 320;
const H = 150;
const PAD = { left: 46, right: 8, top: 10, bottom: 22 };

function frame(id, title, summary) {
  const titleId = `${id}-title`;
  const descId = `${id}-desc`;
  const svg = s(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${titleId} ${descId}`, preserveAspectRatio: "none" },
    s("title", { id: titleId }, title),
    s("desc", { id: descId }, summary),
  );
  return svg;
}

/**
 * Where the plot begins: right of the widest label of the axis (9px digits are about 5.5 units wide). A fixed 46
 * units cut a longer label at its left: a highest cost of $1234.5000 read "234.5000".
 */
function plotLeft(labels) {
  return Math.max(PAD.left, Math.ceil(8 + 5.6 * Math.max(...labels.map((label) => label.length))));
}

/** The axes, labelled `format(top)` and `format(0)`; the x where the plot begins. */
function axis(svg, top, format) {
  const x0 = plotLeft([format(top), format(0)]);
  const y0 = H - PAD.bottom;
  svg.append(
    s("line", { class: "axis", x1: x0, y1: PAD.top, x2: x0, y2: y0 }),
    s("line", { class: "axis", x1: x0, y1: y0, x2: W - PAD.right, y2: y0 }),
    s("text", { class: "tick", x: x0 - 4, y: PAD.top + 8, "text-anchor": "end" }, format(top)),
    s("text", { class: "tick", x: x0 - 4, y: y0, "text-anchor": "end" }, format(0)),
  );
  return x0;
}

/** "1 orchestration", "2 orchestrations": a chart's summary is read out by screen readers. */
function runs(count, kind = "") {
  return `${count} ${kind}orchestration${count === 1 ? "" : "s"}`;
}

function empty(figure, caption, why = "No finished orchestration yet.") {
  fill(figure, h("figcaption", null, caption), h("p", { class: "hint" }, why));
}

/** `points`: [{label, cost, score}] in order. */
export function costChart(figure, points) {
  const caption = "Cost per orchestration (US$)";
  if (points.length === 0) return empty(figure, caption);
  const top = points.reduce((most, p) => Math.max(most, p.cost), 0);
  const total = points.reduce((sum, p) => sum + p.cost, 0);
  const svg = frame("cost-svg", caption, `${runs(points.length)}, ${money(total)} in all, at most ${money(top)}.`);
  const left = axis(svg, top, money); // (the highest cost as it is: runs that all cost nothing read "$0", not "$0.0000000010")
  const width = (W - left - PAD.right) / points.length;
  const plot = H - PAD.top - PAD.bottom;
  points.forEach((p, i) => {
    const height = top > 0 ? (p.cost / top) * plot : 0;
    svg.append(
      s(
        "rect",
        {
          class: "bar",
          x: (left + i * width + width * 0.15).toFixed(2),
          y: (H - PAD.bottom - height).toFixed(2),
          width: Math.max(width * 0.7, 1).toFixed(2),
          height: Math.max(height, 0.5).toFixed(2),
        },
        s("title", null, `${p.label}: ${money(p.cost)}`),
      ),
    );
  });
  fill(figure, h("figcaption", null, caption, h("span", { class: "total" }, ` · ${money(total)} in all`)), svg);
}

export function scoreChart(figure, points, threshold) {
  const caption = "Final score per orchestration (0–10)";
  const scored = points.filter((p) => p.score !== null && p.score !== undefined);
  if (scored.length === 0) {
    const why = points.length
      ? "No finished orchestration has a final score (a failed or cancelled one has none, nor an answer returned unjudged)."
      : undefined;
    return empty(figure, caption, why);
  }
  const mean = scored.reduce((sum, p) => sum + p.score, 0) / scored.length;
  const svg = frame("score-svg", caption, `${runs(scored.length, "scored ")}, mean ${score(mean)}.`);
  const left = axis(svg, 10, (v) => String(v));
  const plot = H - PAD.top - PAD.bottom;
  const step = (W - left - PAD.right) / points.length;
  const y = (v) => (H - PAD.bottom - (v / 10) * plot).toFixed(2);
  if (threshold !== null && threshold !== undefined) {
    svg.append(s("line", { class: "threshold", x1: left, x2: W - PAD.right, y1: y(threshold), y2: y(threshold) },
      s("title", null, `threshold ${threshold}/10`)));
  }
  const coords = [];
  points.forEach((p, i) => {
    if (p.score === null || p.score === undefined) return;
    const cx = (left + step * (i + 0.5)).toFixed(2);
    coords.push(`${cx},${y(p.score)}`);
    svg.append(s("circle", { class: "dot", cx, cy: y(p.score), r: 3.5 }, s("title", null, `${p.label}: ${score(p.score)}`)));
  });
  if (coords.length > 1) svg.insertBefore(s("polyline", { class: "line", points: coords.join(" ") }), svg.querySelector("circle"));
  fill(figure, h("figcaption", null, caption, h("span", { class: "total" }, ` · mean ${score(mean)}`)), svg);
}
