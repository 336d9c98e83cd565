// The console: log in with an API key, browse the user's sessions, follow orchestrations live, start one.

import { Api, ApiError, EventStream, idempotencyKey, retryWait, waitText } from "./api.js";
import { costChart, scoreChart } from "./charts.js";
import { byId, fill, h, money, score, shorten, when } from "./dom.js";
import { renderBestSoFar, renderEarlyStop, renderEvent, renderOverage, renderVerdicts } from "./feed.js";
import { decimalComma, readNumber } from "./numbers.js";
import { progressOf, statusOf } from "./progress.js";
import { freeRun, uncountedNotes } from "./uncounted.js";

const KEY = "orchestratex.console.key";
const USER = "orchestratex.console.user";
const SESSION = "orchestratex.console.session";
/** The orchestration picked (or started) in the selected session, not one merely followed: a reload shows it again. */
const RUN = "orchestratex.console.run";
/**
 * How often the selected session is read again at first. Its status can change elsewhere (another tab, a script, the
 * API) and no event says so: the WebSocket carries orchestration events only (docs/console.md).
 */
const POLL_MS = 10000;
/**
 * The longest wait between two reads of a selected session in which nothing changes: each read that finds it as it was
 * doubles the wait, up to this. Eight tabs open on one session read it every 10 s each, 96 requests a minute: the
 * session's rate limit (100) was reached by idle tabs alone.
 */
const POLL_MAX_MS = 60000;
const ENDED = new Set(["completed", "cancelled"]);

const state = {
  api: null,
  userId: null,
  sessions: [],
  /** How many of `sessions` (newest first) the list shows. */
  sessionsShown: 0,
  /** Whether the sessions made since the list was read are being read (`addNewerSessions`). */
  readingSessions: false,
  sessionId: null,
  /** The selected session's threads read so far, oldest first: a refresh reads only the newer ones. */
  threads: [],
  /** Whether the selected session's threads have been read once (`threads` is then every one made before). */
  threadsRead: false,
  /** The ids of `threads`, and of the threads this page made in the selected session (not read yet, maybe): a run's
   * start on any other thread reads the threads again. */
  threadIds: new Set(),
  stream: null,
  runs: new Map(),
  watching: null,
  follow: true,
  /** The run kept in the tab (`RUN`) for the selected session: shown when its events replay, instead of the newest. */
  pinned: null,
  redraw: 0,
  streamText: "",
  /** Changes of the stream's state so far (but for each retry's "connecting", and "held": a retry put off by a
   * `Retry-After`): an answer about a refusal older than the stream's last change is stale. */
  streamChanges: 0,
  /** The next read of the selected session (`pollSession`). */
  poll: 0,
  /** The wait before that read: `POLL_MS`, doubled by each read that finds the session as it was (`POLL_MAX_MS`). */
  pollMs: POLL_MS,
  /** What the last read of the session found (its document and how many threads): a read finding it alike is idle. */
  pollSeen: null,
  /** The `Retry-After` of the last read, refused (a rate limit): the next read waits at least as long. */
  pollRetryMs: 0,
  refreshTimer: 0,
  /** The next try of `resume` (the key kept in the tab, refused for a moment). */
  resumeTimer: 0,
  verdictsTimer: 0,
  /** The next change of what a screen reader is told of the run shown (`announce`). */
  announceTimer: 0,
  sessionEnded: false,
  /** The selected session's status, as last read. */
  sessionStatus: null,
  /** The last read of the selected session failed: its message is shown until a read succeeds. */
  readFailed: false,
  /** Reads of the selected session started so far, and the newest of them whose answer is shown: the reads overlap
   * (a poll while the first read of threads is slow), and an older answer must not undo a newer one. */
  reads: 0,
  shownRead: 0,
};

// -- log in and out --------------------------------------------------------------------------------
function showLogin(message) {
  byId("app-view").hidden = true;
  byId("who").hidden = true;
  byId("login-view").hidden = false;
  byId("login-error").textContent = message || "";
  byId("login-user").focus();
}

async function login(key, userId, { quiet } = {}) {
  const api = new Api(key);
  let sessions;
  try {
    sessions = await api.sessions(userId);
  } catch (err) {
    // (in the server's words: a revoked key is not a mistyped one, and pasting it again would not help)
    if (err instanceof ApiError && err.status === 401) throw new Error(`The server refused this API key: ${err.message}.`);
    if (err instanceof ApiError && err.status === 404) throw new Error(`This key cannot open user "${userId}".`);
    throw err;
  }
  api.onUnauthorized = () => {
    if (state.api === api) logout("The server refused the key (was it revoked?): log in again.");
  };
  state.api = api;
  state.userId = userId;
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(USER, userId);
  byId("login-view").hidden = true;
  byId("app-view").hidden = false;
  byId("who").hidden = false;
  byId("who-user").textContent = userId;
  byId("login-form").reset();
  if (!quiet) byId("sessions-title").focus();
  showSessions(sessions, sessionStorage.getItem(SESSION));
}

/**
 * Log in again with the key kept in the tab (the page reloaded). A refusal the server lifts by itself — unreachable
 * or restarting, its store down (5xx), a rate limit (429) — is tried again after its `Retry-After` (`retryWait`):
 * it used to leave the login form with an empty key field, so a reload during a brief outage lost the key for good.
 */
function resume(key, user) {
  login(key, user, { quiet: true }).catch((err) => {
    const passing = err instanceof ApiError && (err.status === 0 || err.status === 429 || err.status >= 500);
    if (!passing || sessionStorage.getItem(KEY) !== key) {
      showLogin(err.message);
      return;
    }
    const wait = retryWait(err, 2000);
    showLogin(`Logging in again failed (${err.message}): trying again in ${waitText(wait)}…`);
    clearTimeout(state.resumeTimer);
    state.resumeTimer = setTimeout(() => {
      if (sessionStorage.getItem(KEY) === key) resume(key, user); // (not after a log-out)
    }, wait);
  });
}

function logout(message) {
  clearTimeout(state.poll);
  clearTimeout(state.refreshTimer);
  clearTimeout(state.verdictsTimer);
  clearTimeout(state.announceTimer);
  closeStream();
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(USER);
  sessionStorage.removeItem(SESSION);
  sessionStorage.removeItem(RUN);
  Object.assign(state, { api: null, userId: null, sessions: [], sessionId: null, watching: null, threads: [] });
  state.runs = new Map();
  unstarted = null;
  byId("session-view").hidden = true;
  byId("live-view").hidden = true;
  forget();
  showLogin(typeof message === "string" ? message : "");
}

/**
 * Take the user's data out of the page on a log-out: hidden views kept every session id, prompt, answer and error,
 * and the start form kept a draft prompt that the next user to log in on that tab saw.
 */
function forget() {
  byId("start-form").reset();
  for (const id of ["session-list", "session-facts", "cost-chart", "score-chart", "orchestration-list", "thread-list",
    "feed", "run-progress", "run-status", "verdicts", "who-user", "session-title", "live-title", "stream-state", "sessions-error",
    "start-error", "cancel-error", "stream-error"]) {
    fill(byId(id));
  }
  byId("older-sessions").hidden = true;
  byId("run-cancel").hidden = true;
  drawModelsHint([]);
  document.title = TITLE;
}

// -- sessions ------------------------------------------------------------------------------------
/** How many sessions the list shows at first, and how many more each "Show older sessions" adds. */
const SESSION_PAGE = 200;

function showSessions(sessions, selectId) {
  state.sessions = sessions.slice().reverse(); // newest first
  const at = state.sessions.findIndex((x) => x._id === selectId);
  state.sessionsShown = Math.max(SESSION_PAGE, at + 1);
  fill(byId("session-list"), state.sessions.slice(0, state.sessionsShown).map(sessionItem));
  drawOlderButton();
  byId("sessions-empty").hidden = state.sessions.length > 0;
  const wanted = at >= 0 ? state.sessions[at] : state.sessions[0];
  if (wanted) selectSession(wanted._id);
}

/** The next page of older sessions, added below the others; the focus goes to the first of them. */
function showOlderSessions() {
  const from = state.sessionsShown;
  state.sessionsShown += SESSION_PAGE;
  const items = state.sessions.slice(from, state.sessionsShown).map(sessionItem);
  byId("session-list").append(...items);
  drawOlderButton();
  if (items.length) items[0].querySelector("button").focus();
}

/**
 * Add the sessions made since the list was read — in another tab, by a script, through the API — when the page is seen
 * again (back from another tab), reading only those (the API lists oldest first): the list was read at log-in and
 * at New session only, so a session made in another tab was missing from this one until then.
 */
async function addNewerSessions() {
  const api = state.api;
  if (!api || document.visibilityState !== "visible" || state.readingSessions) return;
  state.readingSessions = true;
  try {
    const newer = await api.sessions(state.userId, state.sessions.length);
    if (state.api !== api) return;
    const known = new Set(state.sessions.map((x) => x._id)); // (a New session meanwhile read them all)
    const fresh = newer.filter((x) => !known.has(x._id)).reverse(); // (newest first)
    if (fresh.length === 0) return;
    state.sessions = fresh.concat(state.sessions);
    state.sessionsShown += fresh.length;
    byId("session-list").prepend(...fresh.map(sessionItem));
    byId("sessions-empty").hidden = true;
    drawOlderButton();
    if (!state.sessionId) selectSession(fresh[0]._id);
  } catch {
    // (not said: the selected session's own read, made at the same moment, says what is wrong)
  } finally {
    state.readingSessions = false;
  }
}

function drawOlderButton() {
  const more = state.sessions.length - state.sessionsShown;
  const button = byId("older-sessions");
  button.hidden = more <= 0;
  button.textContent = `Show older sessions (${more} more)`;
}

function sessionItem(session) {
  return h(
    "li",
    null,
    h(
      "button",
      { type: "button", class: "pick", "data-session": session._id },
      h("span", { class: "pick-title" }, `Session ${session._id.slice(-6)}`),
      h("span", { class: "pick-meta" }, sessionMeta(session)),
    ),
  );
}

function sessionMeta(session) {
  return `${session.status} · ${money(session.total_cost)} · ${when(session.created_at)}`;
}

async function reloadSessions(selectId) {
  showSessions(await state.api.sessions(state.userId), selectId);
}

function closeStream() {
  if (state.stream) state.stream.close();
  state.stream = null;
}

function selectSession(sessionId) {
  for (const button of byId("session-list").querySelectorAll("button")) {
    if (button.dataset.session === sessionId) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  if (state.sessionId === sessionId && state.stream) return;
  closeStream();
  state.sessionId = sessionId;
  state.threads = [];
  state.threadsRead = false;
  state.threadIds = new Set();
  state.runs = new Map();
  state.watching = null;
  state.follow = true;
  state.sessionEnded = false;
  // (a reload showed the newest run of the session again, not the one picked to read)
  state.pinned = sessionStorage.getItem(SESSION) === sessionId ? sessionStorage.getItem(RUN) : null;
  if (state.pinned === null) sessionStorage.removeItem(RUN);
  sessionStorage.setItem(SESSION, sessionId);
  byId("session-view").hidden = false;
  byId("session-title").textContent = `Session ${sessionId}`;
  drawModelsHint([]); // (until it is read: the session picked before may have had its own)
  fill(byId("feed"));
  fill(byId("verdicts"));
  clearTimeout(state.announceTimer);
  fill(byId("run-status"));
  fill(byId("stream-error"));
  byId("live-view").hidden = true;
  document.title = TITLE;
  drawRuns();
  paceAgain();
  refreshSession();
  state.stream = new EventStream(state.api.key, sessionId, {
    onEvent,
    onState: (what, text) => {
      state.streamText = text;
      byId("stream-state").textContent = text;
      // (a retry is no news, nor a retry put off)
      const change = what === "connecting" || what === "held" ? state.streamChanges : ++state.streamChanges;
      if (what === "open") streamOpened = true;
      if (what === "open" || what === "ended") setText(byId("stream-error"), "");
      if (what === "closed") state.api.session(sessionId).catch(() => {}); // a refused key logs out
      if (what === "refused") explainRefusal(sessionId, change);
    },
  });
  state.stream.onRestart = () => reshow(sessionId);
  state.stream.open();
}

/**
 * Forget what was shown of the session, whose events the stream replays from the start (`EventStream.onRestart`):
 * the runs shown may hold events the server no longer has, and its new events reuse their `seq`. The run picked stays
 * picked, and is shown again as its events come.
 */
function reshow(sessionId) {
  if (state.sessionId !== sessionId) return;
  if (!state.follow && state.watching) state.pinned = state.watching;
  state.runs = new Map();
  state.watching = null;
  fill(byId("feed"));
  fill(byId("verdicts"));
  byId("live-view").hidden = true;
  drawTitle();
  drawRuns();
}

/**
 * Whether a stream has opened in this page: the proxy, if any, then passes on the `Sec-WebSocket-Protocol` header that
 * carries the key. Until then a refusal may be a proxy dropping it, which a refused handshake does not tell: the
 * server, given no key, refused every stream while every REST call passed, and the console spoke only of too many
 * streams or a proxy passing no WebSockets on.
 */
let streamOpened = false;

/**
 * Say why the stream of the session could not be opened, under its title (shown or not, the live view waits for the
 * stream's first event; under its orchestrations, below its charts, the message was out of sight): the browser gives a refused handshake no status, and the console said only
 * "Disconnected", in a view hidden until a run's first event, while the list of runs said "None yet". The session read
 * over REST tells most refusals apart (a refused key logs out; a rate limit, the store down or the server unreachable
 * say so); read, the refusal is the stream's own: the user's streams at the server's limit, or a proxy that drops
 * WebSockets.
 */
function explainRefusal(sessionId, change) {
  const stale = () => state.sessionId !== sessionId || state.streamChanges !== change;
  const shown = (text) => stale() || setText(byId("stream-error"), `${text} The console keeps trying.`);
  const refused = "The server refused the live stream of this session, so its orchestrations are not shown";
  state.api.session(sessionId).then(
    () =>
      shown(
        streamOpened
          ? `${refused}: this user may already hold as many streams as the server allows (other tabs, other ` +
              "programs: close some), or a proxy in between does not pass WebSockets on."
          : `${refused}. If a proxy stands between this page and the server, the key may not reach the server: ` +
              "the stream carries it in its Sec-WebSocket-Protocol header, which the proxy must pass on (and " +
              "WebSockets: the Upgrade and Connection headers). Else this user may already hold as many streams " +
              "as the server allows (other tabs, other programs: close some).",
      ),
    (err) => {
      if (!(err instanceof ApiError && err.status === 401)) shown(`The live stream cannot be opened: ${err.message}.`);
      // (a rate limit refuses the stream as it refuses the read: no try before its `Retry-After`)
      if (err instanceof ApiError && err.retryAfter !== null && !stale()) state.stream?.holdOff(err);
    },
  );
}

/** Show the selected session's facts, and its threads unless `threads` is false (read from the newest read on). */
async function refreshSession({ threads: withThreads = true } = {}) {
  const sessionId = state.sessionId;
  const known = state.threads;
  const read = ++state.reads;
  try {
    const [session, newer] = await Promise.all([
      state.api.session(sessionId),
      withThreads ? state.api.threads(sessionId, known.length) : null,
    ]);
    if (sessionId !== state.sessionId) return;
    const threads = newer === null ? null : known.concat(newer);
    if (threads !== null && threads.length > state.threads.length) {
      state.threads = threads;
      for (const thread of newer) state.threadIds.add(thread._id);
    }
    if (threads !== null) state.threadsRead = true;
    // (an answer older than the one shown: its threads count, its figures and its success do not — a poll refused
    // by a rate limit while the first read was slow showed its message, and that read's late success erased it)
    if (read < state.shownRead) {
      if (threads !== null) drawThreads();
      return;
    }
    state.shownRead = read;
    const seen = `${JSON.stringify(session)} ${state.threads.length}`;
    state.pollMs = seen === state.pollSeen ? Math.min(state.pollMs * 2, POLL_MAX_MS) : POLL_MS; // (idle: less often)
    state.pollSeen = seen;
    state.pollRetryMs = 0;
    if (state.readFailed) byId("sessions-error").textContent = ""; // (fresh figures: that failure has passed)
    state.readFailed = false;
    state.sessionEnded = ENDED.has(session.status);
    state.sessionStatus = session.status;
    const meta = byId("session-list").querySelector(`button[data-session="${CSS.escape(sessionId)}"] .pick-meta`);
    if (meta) meta.textContent = sessionMeta(session);
    const settings = session.settings || {};
    fill(
      byId("session-facts"),
      [
        ["status", session.status],
        ["started", when(session.session_start)],
        ["spent", money(session.total_cost)],
        ["cost limit", settings.cost_limit === null || settings.cost_limit === undefined ? "none" : money(settings.cost_limit)],
        ["max iterations", session.max_iterations],
        ["models", (settings.preferred_models || []).join(", ") || "all"],
        // (the session's judging settings were left out: its runs answered unjudged with nothing saying why)
        ["judges", (settings.judges || []).join(", ") || "the server's"],
        ["judging", settings.judging || "the server's"],
      ].map(([name, value]) => [h("dt", null, name), h("dd", null, String(value))]),
    );
    drawModelsHint(settings.preferred_models || []);
    if (threads !== null) drawThreads();
  } catch (err) {
    if (sessionId !== state.sessionId || read < state.shownRead) return; // (a newer answer is shown)
    state.shownRead = read;
    byId("sessions-error").textContent = err.message;
    state.readFailed = true;
    state.pollRetryMs = retryWait(err, 0);
  }
}

const MODELS_HINT = byId("start-models-hint").textContent;

/**
 * What an empty Models field routes among: the selected session's models when it has some (a start without models
 * takes the session's). The hint said "empty routes among all" in a session limited to one model.
 */
function drawModelsHint(models) {
  const text = models.length
    ? `Comma-separated names or aliases; empty routes among this session's: ${models.join(", ")}.`
    : MODELS_HINT;
  setText(byId("start-models-hint"), text);
}

function drawThreads() {
  fill(
    byId("thread-list"),
    state.threads
      .slice()
      .reverse()
      .map((t) =>
        h("li", null, h("span", { class: "tag" }, t.domain || "auto"), " ", h("bdi", null, shorten(t.original_prompt, 120))),
      ),
  );
}

/**
 * Read the selected session again while the page is seen, until it has ended (an end is final), with the threads made
 * since the last read (none, mostly: a thread made elsewhere with no run yet was listed only once the session was
 * picked again, as no event tells of a thread); not until the first read of its threads is done. The next read comes
 * `state.pollMs` after this one's answer — 10 s, doubled by each read finding the session as it was, up to a minute —
 * or after the refusal's `Retry-After` when that is longer: a rate limit was answered by the next read 10 s later, and
 * each read refused still counted against the user. A page out of sight reads nothing (it reads at once when seen
 * again, `seenAgain`).
 */
async function pollSession() {
  clearTimeout(state.poll);
  if (!state.api || !state.sessionId || state.sessionEnded || document.visibilityState !== "visible") return;
  const sessionId = state.sessionId;
  await refreshSession({ threads: state.threadsRead });
  if (state.api && state.sessionId === sessionId) schedulePoll(Math.max(state.pollMs, state.pollRetryMs));
}

function schedulePoll(ms) {
  clearTimeout(state.poll);
  state.poll = setTimeout(pollSession, ms);
}

/** Read the selected session at the first pace again: it was just picked. */
function paceAgain() {
  state.pollMs = POLL_MS;
  state.pollSeen = null; // (the next read is news)
  schedulePoll(POLL_MS);
}

/** Back in sight (from another tab): read the session at once, then at the first pace; out of sight, read nothing. */
function seenAgain() {
  if (document.visibilityState !== "visible") {
    clearTimeout(state.poll);
    return;
  }
  state.pollMs = POLL_MS;
  state.pollSeen = null; // (what this read finds is news: the next read comes at the first pace)
  pollSession();
}

/** One refresh for a burst of ended runs (the stored events replayed on connect end many at once). */
function refreshSoon() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => state.api && refreshSession(), 250);
}

// -- orchestrations, from the session's events -------------------------------------------------------
function runOf(event) {
  let run = state.runs.get(event.orchestration_id);
  if (!run) {
    run = { id: event.orchestration_id, prompt: "", status: "running", score: null, cost: 0, threshold: null, events: [] };
    state.runs.set(run.id, run);
  }
  return run;
}

function onEvent(event) {
  if (!event.orchestration_id) return;
  const run = runOf(event);
  run.events.push(event);
  const shown = run.id === state.watching; // else `watch` below renders the run's events, this one included
  if (event.type === "orchestration_started") {
    run.prompt = event.prompt;
    run.threshold = event.evaluation_threshold;
    run.status = "running";
    if (run.id === state.pinned) watch(run.id, { follow: false });
    else if (state.follow && !aimingAtCancel()) watch(run.id, { follow: true });
    // (a run started elsewhere — another tab, a script, the API — on a thread not read yet: its thread was listed
    // only once the run had ended, when the session is read again)
    if (state.threadsRead && !state.threadIds.has(event.thread_id)) refreshSoon();
  } else if (event.type === "response_generated" || event.type === "evaluation_completed") {
    run.cost += event.cost || 0;
  } else if (event.type === "orchestration_completed") {
    Object.assign(run, { status: "completed", score: event.final_score, cost: event.total_cost });
  } else if (event.type === "orchestration_failed") {
    Object.assign(run, { status: event.reason === "cancelled" ? "cancelled" : "failed", cost: event.total_cost });
  }
  const last = event.type === "orchestration_completed" || event.type === "orchestration_failed";
  if (shown) {
    const node = renderEvent(event);
    if (node) byId("feed").append(node);
    drawProgress(run);
    if (last) verdictsSoon();
  }
  if (shown) drawTitle();
  if (last) refreshSoon(); // its spend, and its status: ending a session cancels its runs
  scheduleDraw();
}

function scheduleDraw() {
  if (state.redraw) return;
  state.redraw = requestAnimationFrame(() => {
    state.redraw = 0;
    drawRuns();
  });
}

function drawRuns() {
  const runs = [...state.runs.values()];
  byId("runs-empty").hidden = runs.length > 0;
  drawRunList(byId("orchestration-list"), runs);
  const ended = runs.filter((run) => run.status !== "running");
  const points = ended.map((run, i) => ({ label: `#${i + 1} ${shorten(run.prompt, 40)}`, cost: run.cost, score: run.score }));
  const last = ended.length ? ended[ended.length - 1].threshold : null;
  costChart(byId("cost-chart"), points);
  scoreChart(byId("score-chart"), points, last);
}

/**
 * The list of runs, newest first, updated in place: a button is made once per run and only its text changes
 * afterwards, so the one a keyboard user has focused keeps the focus while events arrive.
 */
function drawRunList(list, runs) {
  const items = new Map([...list.children].map((li) => [li.dataset.orchestration, li]));
  const wanted = new Set(runs.map((run) => run.id));
  for (const [id, li] of items) if (!wanted.has(id)) li.remove(); // (another session's)
  for (const run of runs) {
    let li = items.get(run.id);
    if (!li) {
      li = h(
        "li",
        { "data-orchestration": run.id },
        h(
          "button",
          { type: "button", class: "pick", "data-orchestration": run.id },
          h("span", { class: "status" }),
          " ",
          h("span", { class: "pick-title", dir: "auto" }),
          h("span", { class: "pick-meta" }),
        ),
      );
      list.prepend(li); // (runs are in the order they began: each new one is the newest)
    }
    const button = li.firstElementChild;
    if (run.id === state.watching) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
    const [status, title, meta] = button.querySelectorAll("span");
    setText(status, run.status);
    status.setAttribute("class", `status ${run.status}`);
    setText(title, shorten(run.prompt || run.id, 90));
    // (while it runs, the cost is its events' sum, which leaves out what calls that gave nothing kept were billed — an
    // iteration's `failed_cost` — until the end gives the stored total: it read as the whole figure, then jumped)
    const cost = run.status === "running" ? `at least ${money(run.cost)}` : money(run.cost);
    setText(meta, `${run.status === "completed" && run.score === null ? "unjudged" : score(run.score)} · ${cost}`);
  }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function watch(orchestrationId, { follow }) {
  state.follow = follow;
  if (follow) sessionStorage.removeItem(RUN);
  else sessionStorage.setItem(RUN, orchestrationId);
  if (state.watching === orchestrationId) return;
  state.watching = orchestrationId;
  const run = state.runs.get(orchestrationId);
  byId("live-view").hidden = false;
  byId("live-title").textContent = `Orchestration ${orchestrationId}`;
  byId("stream-state").textContent = state.streamText;
  fill(byId("verdicts"));
  fill(byId("cancel-error"));
  fill(byId("feed"), (run ? run.events : []).map(renderEvent));
  drawProgress(run || { status: "running", events: [] }); // (a run just started: none of its events has come yet)
  drawTitle();
  if (run && run.status !== "running") verdictsSoon();
  scheduleDraw();
}

const TITLE = document.title;

/**
 * The tab's title names the run shown and its status ("running · Explain … · OrchestrateX console"), drawn at each
 * of its events rather than at the next frame (none comes in a tab in the background): every tab was titled alike,
 * so two tabs could not be told apart, nor a run seen to end from another tab.
 */
function drawTitle() {
  const run = state.watching === null ? undefined : state.runs.get(state.watching);
  document.title = run ? `${run.status} · ${shorten(run.prompt || run.id, 40)} · ${TITLE}` : TITLE;
}

/** What the run shown is waiting for, under its feed (nothing once it has ended). */
function drawProgress(run) {
  const line = byId("run-progress");
  const text = progressOf(run);
  setText(line, text);
  line.hidden = text === "";
  drawCancel(run);
  announce(run);
}

/**
 * The Cancel button under the run shown, while it runs: the console could start a run but not stop one, so a run
 * started with the wrong prompt or settings went on paying for every iteration until it ended by itself.
 */
function drawCancel(run) {
  const button = byId("run-cancel");
  const running = run.status === "running";
  if (!running && document.activeElement === button) byId("live-title").focus(); // (a hidden button drops the focus)
  button.hidden = !running;
}

/**
 * Whether the pointer is on Cancel, or the keyboard focus: a run starting then is not shown in place of the one shown.
 * Under load (runs started by a script), a run started while the operator went for the button took the place of the
 * one meant, and the click cancelled it.
 */
function aimingAtCancel() {
  const button = byId("run-cancel");
  return !button.hidden && (button.matches(":hover") || document.activeElement === button);
}

/**
 * Ask the server to stop the run shown; its last event (`orchestration_failed`, cancelled) says when it has. The run
 * stays shown (picked, as a click in the list picks it), so that its end is seen: the view went on to the next run
 * started, and the cancel seemed not to have happened.
 */
async function cancelShown() {
  const api = state.api;
  const orchestrationId = state.watching;
  if (!api || !orchestrationId) return;
  watch(orchestrationId, { follow: false });
  const error = byId("cancel-error");
  error.textContent = "";
  try {
    await api.cancel(orchestrationId);
  } catch (err) {
    if (state.api !== api || state.watching !== orchestrationId) return;
    // (409: it ended on its own meanwhile, and its last event is on its way)
    error.textContent =
      err instanceof ApiError && err.status === 409
        ? err.message
        : err instanceof ApiError && err.status === 0 // (it may have reached the server: its last event then says so)
          ? `It may not have been cancelled: ${err.message}. Press Cancel again.`
          : `It could not be cancelled: ${err.message}`;
  }
}

/**
 * Tell a screen reader, in one line, what the run shown waits for or how it ended, once its events pause for a
 * moment. The feed itself was the live region: each card was read out whole as it came (the router's table of
 * every candidate, a 200 KB answer), and opening a session read out every event of every run it replayed.
 */
function announce(run) {
  clearTimeout(state.announceTimer);
  state.announceTimer = setTimeout(() => setText(byId("run-status"), statusOf(run)), 500);
}

/**
 * One read of the verdicts of the run shown, once it has ended, for a burst of events: the stored events
 * replayed on connect show and end every run of the session in turn, and a read for each would spend the
 * session's rate limit (100 requests a minute) on runs nobody looks at.
 */
function verdictsSoon() {
  clearTimeout(state.verdictsTimer);
  state.verdictsTimer = setTimeout(() => {
    const run = state.api && state.runs.get(state.watching);
    if (run && run.status !== "running") showVerdicts(run.id);
  }, 250);
}

/**
 * Whether no call of the run `doc` can have been billed, its models priced at $0 by the server's catalog (`freeRun`),
 * read once per login; unread (a rate limit, the server unavailable), the calls may have been billed, as before.
 */
async function isFree(doc, events) {
  const api = state.api;
  if (!catalogs.has(api)) catalogs.set(api, api.get("/api/models/"));
  try {
    return freeRun(doc, events, await catalogs.get(api));
  } catch {
    catalogs.delete(api); // (read again next time)
    return false;
  }
}

/** The server's catalog (`GET /api/models/`, a promise), by the `Api` of the login that read it. */
const catalogs = new WeakMap();

async function showVerdicts(orchestrationId) {
  try {
    const doc = await state.api.orchestration(orchestrationId);
    if (state.watching !== orchestrationId) return;
    const events = state.runs.get(orchestrationId)?.events || [];
    const simulated = Boolean(events[0]?.simulated);
    const free = !simulated && (doc.interrupted_calls || doc.abandoned_calls) ? await isFree(doc, events) : false;
    if (state.watching !== orchestrationId) return;
    const notes = [renderEarlyStop(doc), renderOverage(doc), ...uncountedNotes(doc, { simulated, free })];
    fill(byId("verdicts"), notes, renderBestSoFar(doc), h("h3", null, "Judges' verdicts"), renderVerdicts(doc));
  } catch (err) {
    if (state.watching !== orchestrationId) return;
    fill(byId("verdicts"), h("p", { class: "error" }, `The verdicts could not be read: ${err.message}`));
    // A rate limit, the server briefly unavailable or restarting: read them again (after its `Retry-After`, else at
    // the pace of the session's reads) while the run is shown, until a read succeeds. The message stayed for good.
    if (err instanceof ApiError && (err.status === 0 || err.status === 429 || err.status >= 500)) {
      const wait = retryWait(err, POLL_MS);
      clearTimeout(state.verdictsTimer);
      state.verdictsTimer = setTimeout(() => {
        if (state.api && state.watching === orchestrationId) showVerdicts(orchestrationId);
      }, wait);
    }
  }
}

// -- starting an orchestration ------------------------------------------------------------------------
/**
 * A number field's value (null when empty), checked against its `data-min`, `data-max` and whether it must be whole,
 * here rather than by the server: a start the server refuses would leave behind the thread made for it.
 */
function numberField(form, name, { whole = false } = {}) {
  const input = form.elements[name];
  const label = input.labels[0].textContent;
  const raw = input.value.trim();
  if (raw === "") return null;
  const value = readNumber(raw, { comma: decimalComma(navigator.language) });
  if (value instanceof Error) throw new Error(`${label}: ${value.message}`);
  if (whole && !Number.isInteger(value)) throw new Error(`${label}: "${raw}" is not a whole number.`);
  const { min, max } = input.dataset;
  if (min !== undefined && value < Number(min)) throw new Error(`${label}: give at least ${min}.`);
  if (max !== undefined && value > Number(max)) throw new Error(`${label}: give at most ${max}.`);
  return value;
}

function startSettings(form) {
  const settings = {
    max_iterations: numberField(form, "max_iterations", { whole: true }),
    evaluation_threshold: numberField(form, "evaluation_threshold"),
    cost_limit: numberField(form, "cost_limit"),
  };
  const models = form.elements.models.value.split(",").map((m) => m.trim()).filter(Boolean);
  if (models.length) settings.preferred_models = models;
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== null));
}

/**
 * Refuse a model the server does not know before anything is made, in the server's words (`GET /api/models/{name}`,
 * the lookup the start makes): the API cannot delete a thread, and the start the server refused for it left behind
 * the thread made for it, for good once the prompt was changed. Any other failure of a lookup (a rate limit, the server
 * unavailable) is left for the start to meet and say.
 */
async function checkModels(models) {
  const names = [...new Set(models)].filter((name) => !name.split("/").some((part) => ["", ".", ".."].includes(part)));
  const found = await Promise.all(
    names.map((name) =>
      state.api.model(name).then(
        () => null,
        (err) => (err instanceof ApiError && err.status === 404 ? err : null),
      ),
    ),
  );
  const unknown = found.find((err) => err !== null);
  if (unknown) throw new Error(`Models: ${unknown.message}`);
}

/**
 * The New session being made and selected (a promise), if any: a start pressed meanwhile waits for it, and runs in
 * it. On a slow network the start went to the session selected before, the new one not made yet, and the page then
 * showed the new session, empty, with nothing said of the run started in the other.
 */
let creating = null;

/**
 * The thread made for a start the server then refused or did not answer, and the start's `Idempotency-Key`: the next
 * start of the same prompt uses the thread again, and of the same settings the key too, so that a start whose answer
 * was lost (the network gone silent), sent again, answers the orchestration it started rather than start a second.
 */
let unstarted = null;

async function threadFor(prompt, domain, settings) {
  const wanted = { sessionId: state.sessionId, prompt, domain };
  const asked = JSON.stringify(settings);
  if (unstarted && Object.entries(wanted).every(([k, v]) => unstarted[k] === v)) {
    if (unstarted.settings !== asked) Object.assign(unstarted, { settings: asked, key: idempotencyKey() });
    return unstarted;
  }
  const thread = await state.api.createThread(state.sessionId, prompt, domain);
  if (state.sessionId === wanted.sessionId) state.threadIds.add(thread._id);
  unstarted = { ...wanted, threadId: thread._id, settings: asked, key: idempotencyKey() };
  return unstarted;
}

/** Why a start the server did not answer (a timeout, the connection lost) may have started all the same. */
function unanswered(err) {
  const what = err.message.charAt(0).toUpperCase() + err.message.slice(1);
  return new Error(
    `${what}, so whether the orchestration started is not known. Press Start again, the prompt and settings ` +
      "unchanged, to ask: the server does not start it twice.",
  );
}

/**
 * Run `action` for a press of `button`, one at a time: a press while it runs is ignored (a double click made two
 * sessions). The button is marked `aria-busy` rather than disabled: a disabled button drops the keyboard focus.
 */
async function once(button, action) {
  if (button.getAttribute("aria-busy") === "true") return;
  button.setAttribute("aria-busy", "true");
  try {
    await action();
  } finally {
    button.removeAttribute("aria-busy");
  }
}

function startOrchestration(form) {
  const error = byId("start-error");
  const prompt = form.elements.prompt.value;
  if (!prompt.trim()) {
    error.textContent = "Write a prompt first.";
    form.elements.prompt.focus();
    return;
  }
  return once(byId("start-submit"), () => start(form, prompt));
}

/** Why no orchestration can start in the selected session, whose status is `status` (not active). */
function notActive(status) {
  const what = ENDED.has(status) ? `has ended (${status})` : `is ${status}`;
  const until = ENDED.has(status) ? "" : " until it is active again";
  return `This session ${what}: no orchestration can start in it${until}. Press New session, or pick an active session.`;
}

/**
 * For a start the server refused (409) because the selected session is not active — paused, or ended elsewhere since
 * it was last read — the error saying so, else null. The server's refusal, "session … is paused: threads can only
 * be added to an active session", spoke of a step the user never asked for and not of what to do.
 */
async function inactiveSession(err) {
  if (!(err instanceof ApiError) || err.status !== 409 || !state.sessionId) return null;
  await refreshSession({ threads: false }); // (its status as it is now, shown in its facts too)
  return state.sessionStatus === "active" ? null : new Error(notActive(state.sessionStatus));
}

async function start(form, prompt) {
  const error = byId("start-error");
  error.textContent = "";
  const api = state.api; // (a refused key logs out while the start is on its way: nothing of it may show after that)
  try {
    const settings = startSettings(form);
    if (creating) {
      try {
        await creating;
      } catch (err) {
        throw new Error(`The new session could not be made (${err.message}): nothing was started.`);
      }
      if (state.api !== api) return;
    }
    if (state.sessionId && state.sessionEnded) {
      // (an end is final: the server's refusal spoke of adding a thread, a step the user never asked for)
      throw new Error(notActive(state.sessionStatus));
    }
    await checkModels(settings.preferred_models || []);
    if (!state.sessionId) {
      const session = await state.api.createSession(state.userId);
      await reloadSessions(session._id);
    }
    const sessionId = state.sessionId;
    let doc;
    try {
      const { threadId, key } = await threadFor(prompt, form.elements.domain.value, settings);
      try {
        doc = await state.api.start(threadId, settings, key);
      } catch (err) {
        throw err instanceof ApiError && err.status === 0 ? unanswered(err) : err;
      }
    } catch (err) {
      throw (await inactiveSession(err)) ?? err;
    }
    unstarted = null;
    // (another session picked while the start was on its way: its run is shown when its own session is opened; shown
    // here, it stood among the other session's runs as "waiting for the orchestration to start" for good)
    if (state.api !== api || state.sessionId !== sessionId) return;
    watch(doc._id, { follow: false });
    refreshSession();
  } catch (err) {
    if (state.api === api) error.textContent = err.message;
  }
}

// -- wiring ------------------------------------------------------------------------------------------
function init() {
  byId("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const key = form.elements.key.value.trim();
    const user = form.elements.user.value.trim();
    if (!key || !user) {
      byId("login-error").textContent = "Give both the API key and the user id.";
      (key ? form.elements.user : form.elements.key).focus();
      return;
    }
    const odd = key.match(/[^\x21-\x7e]/u);
    if (odd) {
      // (fetch cannot send it in a header, and said the server could not be reached)
      byId("login-error").textContent =
        `The API key cannot hold "${odd[0]}" (U+${odd[0].codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}): ` +
        "paste it exactly as orchestratex keys create printed it.";
      form.elements.key.focus();
      return;
    }
    byId("login-error").textContent = "Checking the key…";
    clearTimeout(state.resumeTimer); // (the key typed replaces the one kept in the tab)
    try {
      await login(key, user);
    } catch (err) {
      byId("login-error").textContent = err.message;
      form.elements.key.focus();
    }
  });
  byId("logout").addEventListener("click", logout);
  document.addEventListener("visibilitychange", seenAgain); // back from another tab: read it at once
  document.addEventListener("visibilitychange", addNewerSessions);
  byId("session-list").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-session]");
    if (button) selectSession(button.dataset.session);
  });
  byId("orchestration-list").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-orchestration]");
    if (!button) return;
    watch(button.dataset.orchestration, { follow: false });
    // (the run picked is shown above the list on a narrow screen, thousands of pixels up past a long feed: a tap
    // on a phone changed nothing in sight; its heading, focused, is scrolled to and read out)
    byId("live-title").focus();
  });
  byId("older-sessions").addEventListener("click", showOlderSessions);
  byId("run-cancel").addEventListener("click", (ev) => once(ev.currentTarget, cancelShown));
  byId("new-session").addEventListener("click", (ev) =>
    once(ev.currentTarget, async () => {
      byId("sessions-error").textContent = "";
      const api = state.api; // (as for a start: a refused key logs out, and its refusal must not show after that)
      const making = (async () => {
        const session = await state.api.createSession(state.userId);
        if (state.api === api) await reloadSessions(session._id);
      })();
      creating = making;
      try {
        await making;
      } catch (err) {
        if (state.api !== api) return;
        byId("sessions-error").textContent =
          err instanceof ApiError && err.status === 0
            ? `No new session is shown: ${err.message}. It may have been made all the same: reload the page to see.`
            : err.message;
      } finally {
        if (creating === making) creating = null;
      }
    }),
  );
  byId("start-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    startOrchestration(ev.currentTarget);
  });
  const key = sessionStorage.getItem(KEY);
  const user = sessionStorage.getItem(USER);
  if (key && user) {
    resume(key, user);
  } else {
    showLogin("");
  }
  document.documentElement.dataset.ready = "true";
}

init();
