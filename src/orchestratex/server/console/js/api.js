// The REST API and the WebSocket of the server, with the key of the logged-in user.

/** The path the server is served under (`--root-path`, a proxy's prefix): "" at the root of its host. */
export const ROOT = document.querySelector('meta[name="orchestratex-root"]')?.content ?? "";

export class ApiError extends Error {
  constructor(status, detail, retryAfter = null) {
    super(detail);
    this.status = status;
    /** The seconds of the answer's `Retry-After`, when it has one. */
    this.retryAfter = retryAfter;
  }
}

/**
 * How long to wait before trying again what `err` refused: its `Retry-After` (1 s at the least; at the most 10 minutes,
 * as a day's of a proxy in between), else `otherwise` ms. Each retry of the console waits so: some used to wait at most
 * 10 s, each try before the `Retry-After` refused again and counted against the user's rate limit.
 */
export function retryWait(err, otherwise) {
  if (!(err instanceof ApiError) || err.retryAfter === null) return otherwise;
  return Math.min(Math.max(err.retryAfter, 1), 600) * 1000;
}

/** `ms` as a wait is said: "0.5 s", "55 s", "10 min". */
export function waitText(ms) {
  if (ms >= 120000) return `${Math.round(ms / 60000)} min`;
  return ms >= 10000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 100) / 10} s`;
}

/**
 * How long a request waits for the server's answer to begin (its status and headers; its body may take longer):
 * a request the network never answered (a proxy or a Wi-Fi gone silent) left its button (Start, New session, Cancel)
 * greyed out for good, with nothing said.
 */
export const TIMEOUT_S = 30;

/** A key for `Idempotency-Key`: 32 random hex digits (`crypto.randomUUID` exists only on HTTPS and localhost). */
export function idempotencyKey() {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export class Api {
  constructor(key) {
    this.key = key;
    /** Called when the server refuses the key (revoked while the page was open). */
    this.onUnauthorized = () => {};
  }

  async request(method, path, body, extraHeaders = {}) {
    const headers = { ...extraHeaders, Authorization: `Bearer ${this.key}`, Accept: "application/json" };
    const abort = new AbortController();
    const init = { method, headers, cache: "no-store", signal: abort.signal };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    const timer = setTimeout(() => abort.abort(), TIMEOUT_S * 1000);
    try {
      response = await fetch(`${ROOT}${path}`, init);
    } catch (err) {
      if (abort.signal.aborted) throw new ApiError(0, `the server did not answer within ${TIMEOUT_S} s`);
      throw new ApiError(0, `the server cannot be reached (${err.message})`);
    } finally {
      clearTimeout(timer); // (an answer has begun: its body may take its time, a long list of threads)
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (response.status === 401) this.onUnauthorized();
    if (!response.ok) {
      const detail = data && typeof data.detail === "string" ? data.detail : `HTTP ${response.status}`;
      const retry = response.headers.get("Retry-After");
      // (the server's own messages already say when to retry)
      const said = retry && /\bretry\b/i.test(detail);
      const seconds = retry && /^\d+$/.test(retry) ? Number(retry) : null;
      throw new ApiError(response.status, retry && !said ? `${detail} (retry in ${retry} s)` : detail, seconds);
    }
    return data;
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body, headers) {
    return this.request("POST", path, body, headers);
  }

  /** Every session of the user from the `from`-th on, oldest first (the API lists oldest first: read to the end). */
  async sessions(userId, from = 0) {
    const page = 1000;
    let all = [];
    for (let offset = from; ; offset += page) {
      const batch = await this.get(`/api/sessions/user/${encodeURIComponent(userId)}?limit=${page}&offset=${offset}`);
      all = all.concat(batch);
      if (batch.length < page) return all;
    }
  }

  session(id) {
    return this.get(`/api/sessions/${encodeURIComponent(id)}`);
  }

  /**
   * The session's threads from the `from`-th on, oldest first, read to the end (the API lists oldest first, at most
   * 1000 at a time: one page showed a session's first 1000 threads and never its newer ones).
   */
  async threads(sessionId, from = 0) {
    const page = 1000;
    let all = [];
    for (let offset = from; ; offset += page) {
      const batch = await this.get(
        `/api/threads/session/${encodeURIComponent(sessionId)}?limit=${page}&offset=${offset}`,
      );
      all = all.concat(batch);
      if (batch.length < page) return all;
    }
  }

  /** One model of the server's catalog, by name or alias (a name may hold `/`: each part is encoded alone). */
  model(name) {
    return this.get(`/api/models/${name.split("/").map(encodeURIComponent).join("/")}`);
  }

  orchestration(id) {
    return this.get(`/api/orchestration/status/${encodeURIComponent(id)}`);
  }

  /** Stop a pending or running orchestration (409 once it has ended); its last event says it was cancelled. */
  cancel(id) {
    return this.post(`/api/orchestration/${encodeURIComponent(id)}/cancel`);
  }

  createSession(userId) {
    return this.post("/api/sessions/", { user_id: userId });
  }

  createThread(sessionId, prompt, domain) {
    return this.post("/api/threads/", { session_id: sessionId, original_prompt: prompt, domain: domain || null });
  }

  /** Start an orchestration; `key` (`Idempotency-Key`): the same start sent again answers the one it started. */
  start(threadId, settings, key) {
    return this.post("/api/orchestration/start", { thread_id: threadId, settings }, { "Idempotency-Key": key });
  }
}

/**
 * The close code of a stream whose `since` is past the session's last event: the server's store has lost events the
 * page received (restored from a backup). A browser is told nothing of a refused handshake, and this refusal could not
 * be told from a server restarting; the server says it with this code to a client offering the `orchestratex`
 * subprotocol.
 */
const CLOSE_SINCE_PAST_END = 4422;

/** The server's heartbeat interval unless set otherwise (`ORCHESTRATEX_HEARTBEAT_S`). */
const HEARTBEAT_MS = 15000;
/** The least and the most silence a stream is allowed (`EventStream.silent`). */
const MIN_SILENCE_MS = 10000;
const MAX_SILENCE_MS = 600000;

/**
 * A session's events over `/ws/{session_id}`: the stored ones first, then live ones. On a drop it
 * reconnects with `since=<last seq received>`, so no event is lost or repeated; a close with 1000 means
 * the session has ended and it stops; with 4422, that the server has no longer the events received, and it takes
 * every event the server has from the start. A socket that never opened reports the state "refused": the browser tells
 * nothing of a refused handshake (no status, no body, close code 1006), so why is for the caller to find out.
 */
export class EventStream {
  constructor(key, sessionId, { onEvent, onState }) {
    this.key = key;
    this.sessionId = sessionId;
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastSeq = 0;
    /** Called when the server no longer has the events received (`CLOSE_SINCE_PAST_END`), before it replays what it
     * has: what was shown of the session is to go. */
    this.onRestart = () => {};
    this.closed = false;
    this.retryMs = 500;
    this.socket = null;
    /** The next try to open the stream, and when it is due (`Date.now()`): a refusal's `Retry-After` may put it off. */
    this.timer = null;
    this.due = 0;
    /** What the status line said of the stream the next try follows (`retry`): a hold-off says it again. */
    this.lead = null;
    /** How long the stream may say nothing (no event, no heartbeat) before it is taken for dead (`silent`). */
    this.silenceMs = 3 * HEARTBEAT_MS;
    this.watchdog = null;
  }

  /** The stream's URL, without the key: Chromium writes the URL of every WebSocket that fails (the server stopped,
   * the network down) to the devtools console, and proxies log URLs; the key goes in a subprotocol (`protocols`). */
  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams({ since: String(this.lastSeq) });
    return `${scheme}://${location.host}${ROOT}/ws/${encodeURIComponent(this.sessionId)}?${query}`;
  }

  /** `Sec-WebSocket-Protocol: orchestratex, bearer.<key>`, the one header a browser's WebSocket can set; the server
   * answers `orchestratex` (never the key). */
  protocols() {
    return ["orchestratex", `bearer.${this.key}`];
  }

  /** Report the stream's state `what` with `lead`, said to be tried again in `ms`, and try it then. */
  retry(what, lead, ms) {
    this.lead = lead;
    this.onState(what, `${lead}; reconnecting in ${waitText(ms)}…`);
    this.again(ms);
  }

  /** Try to open the stream again in `ms`. */
  again(ms) {
    clearTimeout(this.timer);
    this.due = Date.now() + ms;
    this.timer = setTimeout(() => this.open(), ms);
  }

  /**
   * Put the next try to open the stream off until the `Retry-After` of `err` (`retryWait`): a refusal's (a rate
   * limit), which the page learns from a REST read (a browser is told nothing of a refused handshake). It was tried
   * again within 10 s whatever the limit's wait, each try refused and counted against the user's limit. The status
   * line says the new wait (it kept saying the first, "reconnecting in 0.5 s…", all the while).
   */
  holdOff(err) {
    if (this.closed || this.timer === null) return; // (no try is waiting: the stream is open, or opening)
    const ms = retryWait(err, 0);
    if (Date.now() + ms <= this.due) return;
    const lead = this.lead ?? "The live stream could not be opened";
    // (the state "held": what the stream's last state set off, such as reading why it was refused, is not done again)
    const why = err.status === 429 ? " (a rate limit)" : "";
    this.onState("held", `${lead}, and the server asks to wait${why}; reconnecting in ${waitText(ms)}…`);
    this.again(ms);
  }

  open() {
    this.timer = null;
    this.lead = null;
    if (this.closed) return;
    this.onState("connecting", "Connecting to the live stream…");
    const socket = new WebSocket(this.url(), this.protocols());
    this.socket = socket;
    let opened = false;
    let heard = 0; // (when the socket last said something)
    const alive = () => {
      heard = Date.now();
      clearTimeout(this.watchdog);
      this.watchdog = setTimeout(() => this.silent(socket, opened), this.silenceMs);
    };
    alive(); // (a handshake the network never answers is given up alike)
    socket.addEventListener("open", () => {
      opened = true;
      this.retryMs = 500;
      alive();
      this.onState("open", "Live: events appear as they happen.");
    });
    socket.addEventListener("message", (message) => {
      if (socket !== this.socket) return; // (one given up for dead, heard again)
      const quiet = Date.now() - heard;
      let event;
      try {
        event = JSON.parse(message.data) || {};
      } catch {
        event = {};
      }
      // (a heartbeat comes after the server's interval of silence, 15 s unless set otherwise: three missed are news)
      if (event.type === "heartbeat") this.silenceMs = Math.max(3 * quiet, MIN_SILENCE_MS);
      alive();
      if (event.type === "heartbeat" || typeof event.seq !== "number" || event.seq <= this.lastSeq) return;
      this.lastSeq = event.seq;
      this.onEvent(event);
    });
    socket.addEventListener("close", (close) => {
      if (this.closed || socket !== this.socket) return;
      clearTimeout(this.watchdog);
      if (close.code === 1000) {
        // the session has ended and every event was sent: reconnecting would only be closed again
        this.onState("ended", "The session has ended: every event is shown.");
        return;
      }
      if (close.code === CLOSE_SINCE_PAST_END && this.lastSeq > 0) {
        // (the same position asked again was refused for good, the page saying a proxy or a limit was to blame)
        this.lastSeq = 0;
        this.onRestart();
        this.onState("restart", "The server no longer has every event shown (its store restored from a backup?): " +
          "showing the session as it has it now…");
        this.again(0);
        return;
      }
      const wait = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, 10000);
      // (without the server's instruction to a client program, "too slow: reconnect with ?since=<last seq received>":
      // shown to a person, it asked for what the console does by itself)
      const reason = close.reason.replace(/:\s*reconnect with \?since=.*$/s, "");
      const why = reason ? ` (${reason})` : "";
      if (opened) this.retry("closed", `Disconnected${why}`, wait);
      else this.retry("refused", "The live stream could not be opened", wait);
    });
  }

  /**
   * Give up a socket that has said nothing for `silenceMs`, not even the heartbeat the server sends after its interval
   * of silence, and open another: a network gone silent (a Wi-Fi dropped, a laptop asleep, a NAT that forgot the
   * connection) closes nothing, and the page said "Live" for good while no event came. After an open one, the next
   * is given twice as long until a heartbeat says how long the server stays silent (a server's interval may be set
   * longer); a handshake left unanswered is tried again as a refused one is, after `retryMs`.
   */
  silent(socket, opened) {
    if (this.closed || socket !== this.socket) return;
    this.socket = null; // (its close, maybe minutes away on a dead network, is not waited for)
    socket.close(1000, "silent");
    const seconds = Math.round(this.silenceMs / 1000);
    if (!opened) {
      const wait = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, 10000);
      this.retry("refused", `The live stream did not open within ${seconds} s`, wait);
      return;
    }
    this.silenceMs = Math.min(this.silenceMs * 2, MAX_SILENCE_MS);
    this.onState("closed", `Nothing came from the server for ${seconds} s (the network may have dropped); reconnecting…`);
    this.open();
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    if (this.socket) this.socket.close(1000, "done");
  }
}
