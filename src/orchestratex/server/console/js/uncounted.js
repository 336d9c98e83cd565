// Calls a run's total cost does not count, from its status document: made again after the server that ran it
// stopped or died (`interrupted_calls`), or abandoned in flight by a cancellation (`abandoned_calls`). The provider
// may have billed them (docs/guarantees.md): `orchestratex runs show` says so, and the console said nothing.

import { h } from "./dom.js";

function calls(n) {
  return `${n} call${n === 1 ? "" : "s"}`;
}

/** Notes on the calls `doc.total_cost` leaves out (none: an empty list); `simulated`: no provider bills them. */
export function uncountedNotes(doc, { simulated }) {
  const notes = [];
  const again = doc.interrupted_calls || 0;
  if (again > 0) {
    const billed = simulated
      ? " (simulated models: nothing was billed)."
      : `: the provider may have billed ${again === 1 ? "it" : "them"} twice, which the total cost does not count.`;
    notes.push(
      `${calls(again)} ${again === 1 ? "was" : "were"} in flight when the server running this orchestration stopped ` +
        `or died, and made again when it was resumed${billed}`,
    );
  }
  const abandoned = doc.abandoned_calls || 0;
  if (abandoned > 0 && !simulated) {
    notes.push(
      `The total cost does not count ${calls(abandoned)} abandoned in flight when it was cancelled, which the ` +
        "provider may have billed.",
    );
  }
  return notes.map((note) => h("p", { class: "note" }, note));
}
