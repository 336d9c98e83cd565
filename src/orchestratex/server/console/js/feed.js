// One orchestration's events as cards in the live feed, and the judges' verdicts of its status document.

import { h, money, score } from "./dom.js";

function facts(pairs) {
  return h(
    "dl",
    { class: "facts inline" },
    pairs.filter(([, value]) => value !== null && value !== undefined && value !== "").map(([name, value]) => [
      h("dt", null, name),
      h("dd", null, value),
    ]),
  );
}

function card(event, title, ...body) {
  return h(
    "li",
    { class: ["event", event.type], "data-seq": event.seq, "data-type": event.type },
    h("p", { class: "event-title" }, h("span", { class: "seq" }, `#${event.seq}`), " ", title),
    ...body,
  );
}

function alternatives(event) {
  const entries = Object.entries(event.scores || {}).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return null;
  const top = entries[0][1] || 1;
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "alternatives" },
      h("caption", null, "Candidates the router scored (higher is better)"),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "model"), h("th", { scope: "col" }, "score"))),
      h(
        "tbody",
        null,
        entries.map(([model, value]) =>
          h(
            "tr",
            { class: model === event.model_name ? "chosen" : null },
            h("th", { scope: "row" }, model, model === event.model_name ? " (chosen)" : ""),
            h("td", null, h("meter", { min: 0, max: Math.max(top, value), value, "aria-hidden": "true" }), " ",
              Number(value).toFixed(3)),
          ),
        ),
      ),
    ),
  );
}

/** The most of a prompt shown at first, in UTF-16 units: laid out whole, a prompt of megabytes froze the page. */
export const PROMPT_SHOWN = 50000;

/**
 * A run's prompt, its lines kept: whole up to `PROMPT_SHOWN` characters, else its start (to a line's end where one is
 * near) and a button that shows the rest. The browser took seconds to lay out a prompt of a megabyte, minutes for
 * 5 MB, during which the page answered nothing: each time the run was shown, or followed as it started.
 */
function promptOf(prompt) {
  const text = String(prompt ?? "");
  if (text.length <= PROMPT_SHOWN) return h("pre", { class: "prompt", dir: "auto" }, text);
  let end = text.lastIndexOf("\n", PROMPT_SHOWN);
  if (end < PROMPT_SHOWN - 2000) end = PROMPT_SHOWN;
  if (/[\ud800-\udbff]/.test(text[end - 1])) end -= 1; // (not half of a character)
  const pre = h("pre", { class: "prompt", dir: "auto" }, text.slice(0, end));
  const rest = text.length - end;
  const more = h("button", { type: "button", class: "secondary" }, `Show the whole prompt (${rest} more characters)`);
  more.addEventListener("click", () => {
    pre.textContent = text;
    pre.setAttribute("tabindex", "0"); // (the focus goes on to the prompt, which scrolls, not to the page's start)
    more.remove();
    pre.focus();
  });
  return [pre, more];
}

const RENDER = {
  orchestration_started: (e) =>
    card(
      e,
      e.simulated ? "Started (simulated models: no provider key on the server)" : "Started",
      // (whole, its lines kept: cut to 400 characters on one line, a pasted snippet of code could not be read)
      promptOf(e.prompt),
      facts([
        ["domain", e.domain],
        ["max iterations", e.max_iterations],
        ["threshold", `${e.evaluation_threshold}/10`],
      ]),
    ),
  model_selected: (e) =>
    card(
      e,
      `Iteration ${e.iteration}: routed to ${e.model_name}`,
      h("p", { class: "reasoning" }, e.reasoning),
      alternatives(e),
    ),
  response_generated: (e) =>
    card(
      e,
      `Iteration ${e.iteration}: ${e.model_name} answered`,
      facts([
        ["tokens", `${e.tokens_used} (${e.input_tokens} in, ${e.output_tokens} out)`],
        ["cost", money(e.cost)],
        ["latency", `${(e.latency_ms / 1000).toFixed(2)} s`],
      ]),
      h("pre", { class: "preview", dir: "auto" }, e.response_preview),
    ),
  evaluation_completed: (e) =>
    card(
      e,
      `Iteration ${e.iteration}: judged ${score(e.score)}`,
      facts([
        ["judges", e.evaluator_model],
        ["judging cost", money(e.cost)],
      ]),
      h("p", { class: "feedback", dir: "auto" }, e.feedback),
    ),
  orchestration_completed: (e) =>
    card(
      e,
      // (no score: the answer was returned unjudged, judging "when_needed", and "Completed: —" read as a fault)
      e.final_score === null ? `Completed, unjudged: by ${e.model_name}` : `Completed: ${score(e.final_score)} by ${e.model_name}`,
      facts([
        ["iterations", e.iterations],
        ["total cost", money(e.total_cost)],
        ["stop reason", e.stop_reason],
      ]),
      h("h3", { class: "answer-title" }, "Final answer"),
      h("pre", { class: "answer", dir: "auto" }, e.final_response),
    ),
  orchestration_failed: (e) =>
    card(
      e,
      e.reason === "cancelled" ? "Cancelled" : `Failed (${e.reason})`,
      facts([
        ["iterations", e.iterations],
        ["total cost", money(e.total_cost)],
        ["stop reason", e.reason],
      ]),
      h("p", { class: "error-text" }, e.error),
    ),
};

/** The feed card of an event (null for a type this console does not know). */
export function renderEvent(event) {
  const render = RENDER[event.type];
  return render ? render(event) : null;
}

/**
 * The best answer of a run that ended without completing (cancelled, most often, once it had answers), or null: its
 * status document keeps it (`final_response`), paid for, and the feed showed its start alone (`response_preview`).
 * `orchestratex runs show` prints it whole.
 */
export function renderBestSoFar(doc) {
  if (doc.status === "completed" || doc.final_response === null || doc.final_response === undefined) return null;
  const judged = doc.final_score === null || doc.final_score === undefined ? "unjudged" : score(doc.final_score);
  const how = { cancelled: "the run was cancelled", failed: "the run failed" }[doc.status] ?? `the run is ${doc.status}`;
  return [
    h("h3", { class: "answer-title" }, `Best answer so far: ${judged} by ${doc.final_model} (${how})`),
    h("pre", { class: "answer best", dir: "auto" }, doc.final_response),
  ];
}

/**
 * Why a run that completed stopped short of its threshold and iterations (`stop_reason` budget or error: the status
 * document's `error` says why; its last event does not), or null. The feed said "stop reason: budget" alone.
 */
export function renderEarlyStop(doc) {
  if (doc.status !== "completed" || !doc.error) return null;
  return h("p", { class: "note", dir: "auto" }, `Stopped early (${doc.stop_reason}): ${doc.error}`);
}

/**
 * What providers billed past the worst case reserved for their calls (`overage_cost`, usage reported beyond the
 * request's bounds), which the total counts: a run then shows a total above its cost limit, and nothing said so.
 */
export function renderOverage(doc) {
  const overage = Number(doc.overage_cost) || 0;
  if (overage <= 0) return null;
  const limit = doc.settings ? doc.settings.cost_limit : null;
  const billed =
    `a provider billed ${money(overage)} more than was reserved for its calls (it reported usage past the request's ` +
    "bounds), which no limit can hold back once billed (what the run reserved stayed within it).";
  const text =
    typeof limit === "number" && doc.total_cost > limit
      ? `Its total of ${money(doc.total_cost)} is over its cost limit of ${money(limit)}: ${billed}`
      : `Of its total of ${money(doc.total_cost)}, ${billed}`;
  return h("p", { class: "note overage" }, text);
}

/** Every judge's score and feedback on every iteration, from the orchestration's status document. */
export function renderVerdicts(doc) {
  const rows = [];
  for (const it of doc.iterations || []) {
    for (const verdict of (it.evaluation && it.evaluation.verdicts) || []) {
      rows.push(
        h(
          "tr",
          null,
          h("td", null, String(it.index)),
          h("td", null, it.model_name),
          h("th", { scope: "row" }, verdict.judge_model),
          h("td", null, verdict.score === null ? "failed" : score(verdict.score)),
          h("td", null, money(verdict.cost)),
          h("td", { class: "feedback", dir: "auto" }, verdict.error ? `error: ${verdict.error}` : verdict.feedback),
        ),
      );
    }
    // (in the run's total and in no card of the feed nor row of this table: they did not add up to the total)
    if (it.failed_cost) {
      rows.push(
        h(
          "tr",
          { class: "failed-cost" },
          h("td", null, String(it.index)),
          h("td", null, it.model_name),
          h("th", { scope: "row" }, "billed for nothing kept"),
          h("td", null, "—"),
          h("td", null, money(it.failed_cost)),
          h(
            "td",
            { class: "feedback" },
            "a refused or empty answer before this one, or judges whose verdicts were not kept",
          ),
        ),
      );
    }
  }
  if (rows.length === 0) return h("p", { class: "hint" }, "No judge has scored an answer of this orchestration.");
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "verdicts" },
      h("caption", null, `Each judge's verdict (status ${doc.status}, total ${money(doc.total_cost)})`),
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ["iteration", "answer by", "judge", "score", "cost", "feedback"].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h("tbody", null, rows),
    ),
  );
}
