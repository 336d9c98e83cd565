// What a running orchestration is waiting for, in words: shown under its feed, so that the long waits between its
// events (a model's answer, the judges' verdict: tens of seconds with real models) read as work under way.

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
