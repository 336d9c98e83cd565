// What a running orchestration is waiting for, in words: shown under its feed, so that the long waits between its
// events (a model's answer, the judges' verdict: tens of seconds with real models) read as work under way; and what
// a screen reader is told of it, that line or, once it has ended, how.

import { money, score } from "./dom.js";

/** The line for a run from its events so far: "" once it has ended. */
export function progressOf(run) {
  if (run.status !== "running") return "";
  const last = run.events[run.events.length - 1];
  if (!last) return "Waiting for the orchestration to start…";
  const step = last.iteration === undefined ? "" : `Iteration ${last.iteration}: `;
  switch (last.type) {
    case "orchestration_started":
      return "Iteration 1: choosing a model…";
    case "model_selected":
      return `${step}waiting for the answer of ${last.model_name}…`;
    case "response_generated":
      return `${step}${last.model_name} answered; judging the answer…`;
    case "evaluation_completed":
      return `${step}judged; refining the answer or finishing…`;
    default:
      return "Running…";
  }
}

/** One line for a screen reader: what the run waits for while it runs, how it ended once it has. */
export function statusOf(run) {
  const last = run.events[run.events.length - 1];
  if (run.status === "running" || !last) return progressOf(run);
  if (last.type === "orchestration_completed") {
    const how = last.final_score === null ? "Completed, unjudged" : `Completed: ${score(last.final_score)}`;
    return `${how} by ${last.model_name}, ${money(last.total_cost)} in all.`;
  }
  if (last.type === "orchestration_failed") {
    const how = last.reason === "cancelled" ? "Cancelled" : `Failed (${last.reason}): ${last.error}`;
    return `${how}; ${money(last.total_cost)} spent.`;
  }
  return "";
}
