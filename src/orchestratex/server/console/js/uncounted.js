// Calls a run's total cost does not count, from its status document: made again after the server that ran it
// stopped or died (`interrupted_calls`), or abandoned in flight by a cancellation (`abandoned_calls`). The provider
// may have billed them (docs/guarantees.md): `orchestratex runs show` says so, and the console said nothing.

import { h } from "./dom.js";

function calls(n) {
  return `${n} call${n === 1 ? "" : "s"}`;
}

/** Whether the catalog prices `model` (an entry of `GET /api/models/`) at $0: an unpriced one's price is unknown. */
function pricedAtNothing(model) {
  return model.input_cost_per_1k === 0 && model.output_cost_per_1k === 0;
}

/**
 * Whether no call of the run `doc` (its status document, with its `events`) can have been billed, as `orchestratex
 * runs show` tells (its models free): no call of it cost anything, every model it names (its answers, its judges, the
 * router's candidates) is priced at $0 in the server's `catalog` (`GET /api/models/`) or was seen answering for $0 in
 * the run's own record, and so is every model of that catalog, for a judge in flight the run does not name. The
 * console said "may have billed" of the Ollama models of a catalog that prices them at $0: it asked only whether the
 * models were simulated.
 */
export function freeRun(doc, events, catalog) {
  const names = new Set();
  const paid = new Set();
  const seenFree = new Set();
  const record = (name, cost, catalogCost, usage) => {
    names.add(name);
    if (cost || catalogCost) paid.add(name);
    else if (catalogCost === 0 && usage && (usage.input_tokens || usage.output_tokens)) seenFree.add(name);
  };
  for (const it of doc.iterations || []) {
    record(it.model_name, it.cost, it.catalog_cost, it.usage);
    for (const v of (it.evaluation && it.evaluation.verdicts) || []) record(v.judge_model, v.cost, v.catalog_cost, v.usage);
  }
  for (const event of events) {
    if (event.type !== "model_selected") continue;
    names.add(event.model_name);
    for (const name of Object.keys(event.scores || {})) names.add(name);
  }
  if (paid.size > 0 || !catalog.every(pricedAtNothing)) return false;
  const free = new Set(catalog.map((model) => model.name));
  return [...names].every((name) => free.has(name) || seenFree.has(name));
}

/**
 * Notes on the calls `doc.total_cost` leaves out (none: an empty list); `simulated`: no provider bills them; `free`:
 * its models are priced at $0 (`freeRun`), so none was billed either.
 */
export function uncountedNotes(doc, { simulated, free = false }) {
  const notes = [];
  const again = doc.interrupted_calls || 0;
  if (again > 0) {
    const billed = simulated
      ? " (simulated models: nothing was billed)."
      : free
        ? " (its models are priced at $0: nothing was billed)."
        : `: the provider may have billed ${again === 1 ? "it" : "them"} twice, which the total cost does not count.`;
    notes.push(
      `${calls(again)} ${again === 1 ? "was" : "were"} in flight when the server running this orchestration stopped ` +
        `or died, and made again when it was resumed${billed}`,
    );
  }
  const abandoned = doc.abandoned_calls || 0;
  if (abandoned > 0 && !simulated && !free) {
    notes.push(
      `The total cost does not count ${calls(abandoned)} abandoned in flight when it was cancelled, which the ` +
        "provider may have billed.",
    );
  }
  return notes.map((note) => h("p", { class: "note" }, note));
}
