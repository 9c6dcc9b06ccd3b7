// Roomcast live console.
//
// A worked example of the two public interfaces of a Roomcast server, and nothing else:
// - the admin REST API under /api, with `Authorization: Bearer <ADMIN_TOKEN>` (Swagger at /docs);
// - the WebSocket protocol at /ws (docs/protocol.md), for watching a room live.
// The server gives this page no privilege: any operator tool can do what it does.
//
// The DOM is only ever built with el() below, which adds text as text nodes and never
// parses HTML: room names, identities and message contents come from clients.

const POLL_MS = 2000;
/** One `history` page (the protocol allows 1-100). */
const HISTORY_LIMIT = 50;
/** A tab left open on a busy room must not grow without bound. */
const KEEP_ENTRIES = 300;
const IDENTITY = 'roomcast-console';
/**
 * A device id of its own per page load: one live connection per device, so two tabs (or a
 * reload racing the old socket's close) must not replace each other with 4409.
 */
const DEVICE_ID = `console-${[...crypto.getRandomValues(new Uint8Array(4))]
  .map((b) => b.toString(16).padStart(2, '0'))
  .join('')}`;

// sessionStorage, not localStorage: the tokens live as long as the tab, and no other tab or
// later visitor of this browser profile finds them.
const session = {
  get adminToken() {
    return sessionStorage.getItem('roomcast.adminToken');
  },
  get clientToken() {
    return sessionStorage.getItem('roomcast.clientToken') || undefined;
  },
  signIn(adminToken, clientToken) {
    sessionStorage.setItem('roomcast.adminToken', adminToken);
    if (clientToken) sessionStorage.setItem('roomcast.clientToken', clientToken);
    else sessionStorage.removeItem('roomcast.clientToken');
  },
  signOut() {
    sessionStorage.removeItem('roomcast.adminToken');
    sessionStorage.removeItem('roomcast.clientToken');
  },
};

const $ = (id) => document.getElementById(id);

/** `el('td', { class: 'x' }, 'text', child)`: attributes, `on*` listeners, text and nodes. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, '');
    else if (value !== false && value != null) node.setAttribute(name, String(value));
  }
  node.append(...children.flat().filter((c) => c != null && c !== false));
  return node;
}

const time = (ms) => new Date(ms).toLocaleTimeString();
const number = (n) => (n == null ? '–' : n.toLocaleString());

// ---- admin API -------------------------------------------------------------------------------

/** An admin API refusal: the server's `{statusCode, code, message}` body. */
class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
    this.retryAfter = retryAfter;
  }
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${session.adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => undefined);
  if (!res.ok) throw new ApiError(res.status, data, res.headers.get('retry-after'));
  return data;
}

/** What an operator should read for a refused call; 401 and 403 are about the token itself. */
function explain(err) {
  if (!(err instanceof ApiError)) return `cannot reach the server (${err.message})`;
  if (err.status === 401) return `wrong admin token: the server refused it (${err.message})`;
  if (err.status === 403) return `the admin API is off: ${err.message}`;
  if (err.status === 429) return `rate limited: retry in ${err.retryAfter ?? 'a few'} s (RATE_ADMIN_PER_SEC)`;
  return `${err.code ?? err.status}: ${err.message}`;
}

// ---- sign-in ---------------------------------------------------------------------------------

$('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  session.signIn($('admin-token').value.trim(), $('client-token').value.trim());
  await start();
});

$('sign-out').addEventListener('click', () => stop());

/** Checks the token with one real call (there is no login endpoint), then shows the dashboard. */
async function start() {
  if (!session.adminToken) return;
  try {
    renderStats(await api('GET', '/api/stats'));
  } catch (err) {
    return stop(explain(err));
  }
  $('sign-in').hidden = true;
  $('dashboard').hidden = false;
  $('sign-out').hidden = false;
  $('admin-token').value = '';
  $('client-token').value = '';
  void poll();
}

function stop(error = '') {
  session.signOut();
  clearTimeout(pollTimer);
  watch?.close();
  watch = undefined;
  hideFailed();
  $('dashboard').hidden = true;
  $('room-panel').hidden = true;
  $('sign-out').hidden = true;
  $('node').textContent = '';
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = error;
}

// ---- polling ---------------------------------------------------------------------------------

let pollTimer;
let polling = false;
let pollAgain = false;

/**
 * Every panel's data, every POLL_MS. The next round is scheduled when this one ends, not on a
 * fixed interval, so a slow server never has calls piling up; a call while a round is running
 * (an operator's action, a presence event) asks for one more round right after it. A hidden
 * tab skips its rounds and leaves the admin rate limit (per address, shared with other tools)
 * alone.
 */
async function poll() {
  clearTimeout(pollTimer);
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  try {
    if (!document.hidden) await refresh();
  } finally {
    polling = false;
  }
  if (session.adminToken) pollTimer = setTimeout(poll, pollAgain ? 0 : POLL_MS);
  pollAgain = false;
}

async function refresh() {
  const room = watch && encodeURIComponent(watch.roomId);
  const results = await Promise.allSettled([
    api('GET', '/api/stats').then(renderStats),
    api('GET', '/api/queues').then(renderQueues),
    api('GET', '/api/rooms?limit=100').then(renderRooms),
    room ? api('GET', `/api/rooms/${room}`).then(renderMembers) : undefined,
    failedQueue ? api('GET', `/api/queues/${failedQueue}/failed?limit=20`).then(renderFailed) : undefined,
  ]);
  const failure = results.find((r) => r.status === 'rejected')?.reason;
  if (failure instanceof ApiError && failure.status === 401)
    return stop('the admin token was refused: sign in again');
  $('refreshed').textContent = failure
    ? `refresh failed: ${explain(failure)}`
    : `updated ${time(Date.now())}`;
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && session.adminToken) void poll();
});

// ---- counts ----------------------------------------------------------------------------------

/** GET /api/stats: this node's figures; `cluster` sums the connections of every node. */
function renderStats(stats) {
  $('node').textContent = `node ${stats.node_id} · ${stats.mode} mode · role ${stats.role}`;
  $('count-connections').textContent = number(stats.cluster?.connections ?? stats.connections);
  $('count-rooms').textContent = number(stats.rooms);
  // A per-minute count is what the server keeps; per second reads better next to live traffic.
  $('count-rate').textContent = (stats.messages_per_min / 60).toFixed(1);
}

// ---- queues and dead letters -----------------------------------------------------------------

/** The queue whose dead-lettered jobs are listed (GET /api/queues/:name/failed), if any. */
let failedQueue;

/** GET /api/queues: depth = waiting + active + delayed (retries in backoff). */
function renderQueues({ queues }) {
  const sum = (key) => queues.reduce((total, q) => total + q[key], 0);
  $('count-queued').textContent = number(sum('waiting') + sum('active') + sum('delayed'));
  $('count-failed').textContent = number(sum('failed'));
  $('queues').replaceChildren(
    ...queues.map((q) =>
      el(
        'tr',
        {},
        el('td', {}, q.name),
        el('td', {}, number(q.waiting)),
        el('td', {}, number(q.active)),
        el('td', {}, number(q.delayed)),
        el('td', {}, number(q.completed)),
        el('td', {}, number(q.failed)),
        el(
          'td',
          {},
          el(
            'button',
            { type: 'button', class: 'secondary', onclick: () => showFailed(q.name) },
            'failed jobs',
          ),
          ' ',
          el(
            'button',
            { type: 'button', disabled: q.failed === 0, onclick: () => retryFailed(q.name) },
            'retry all',
          ),
        ),
      ),
    ),
  );
}

async function showFailed(queue) {
  failedQueue = queue;
  renderFailed(await api('GET', `/api/queues/${queue}/failed?limit=20`).catch(report));
}

function renderFailed(list) {
  if (!list) return;
  const jobs = list.jobs.map((job) =>
    el(
      'div',
      {},
      el('strong', {}, `${job.name} #${job.id}`),
      ` — ${job.attempts_made} attempts, last ${job.failed_at ? time(job.failed_at) : '?'}: ${job.failed_reason}`,
      el('pre', {}, JSON.stringify(job.data, null, 2)),
    ),
  );
  $('failed').replaceChildren(
    el(
      'h3',
      {},
      `dead-lettered in ${failedQueue} (newest 20) `,
      el('button', { type: 'button', class: 'secondary', onclick: hideFailed }, 'hide'),
    ),
    ...(jobs.length ? jobs : [el('p', {}, 'none')]),
  );
}

function hideFailed() {
  failedQueue = undefined;
  $('failed').replaceChildren();
}

/** POST /api/queues/:name/retry-failed moves every dead-lettered job of the queue back to waiting. */
async function retryFailed(queue) {
  const result = await api('POST', `/api/queues/${queue}/retry-failed`).catch(report);
  if (result) $('status').textContent = `${result.retried} job(s) of ${queue} moved back to waiting`;
  void poll();
}

function report(err) {
  $('status').textContent = explain(err);
  return undefined;
}

// ---- rooms -----------------------------------------------------------------------------------

/** GET /api/rooms: every room (also empty ones), oldest first, with its connected members. */
function renderRooms({ rooms, total }) {
  $('rooms-total').textContent = rooms.length < total ? `first ${rooms.length} of ${total}` : `${total}`;
  $('rooms').replaceChildren(
    ...rooms.map((room) =>
      el(
        'tr',
        {
          'data-room': room.room_id,
          class: watch?.roomId === room.room_id ? 'open' : false,
          onclick: () => openRoom(room.room_id),
        },
        el('td', {}, room.room_id, room.private ? ' 🔒' : ''),
        el('td', {}, room.name ?? ''),
        el('td', {}, number(room.total_clients)),
        el('td', {}, time(room.last_active_at)),
      ),
    ),
  );
}

/** GET /api/rooms/:id: who is connected in the room now, on any node. */
function renderMembers(room) {
  if (room.room_id !== watch?.roomId) return;
  $('members').replaceChildren(
    ...room.members.map((m) =>
      el(
        'li',
        { 'data-member': m.device_id },
        el('span', {}, m.identity, ' ', el('small', {}, m.device_id, ' @ ', m.node_id)),
        m.device_id === DEVICE_ID
          ? el('small', {}, 'this console')
          : el(
              'button',
              { type: 'button', class: 'danger', 'data-kick': m.device_id, onclick: () => kick(m) },
              'kick',
            ),
      ),
    ),
  );
}

/** DELETE /api/clients/:deviceId: the device gets `system` kind `kicked`, then close 4403. */
async function kick(member) {
  if (!confirm(`Disconnect ${member.identity} (${member.device_id})?`)) return;
  const reason = encodeURIComponent('kicked from the Roomcast console');
  const result = await api(
    'DELETE',
    `/api/clients/${encodeURIComponent(member.device_id)}?reason=${reason}`,
  ).catch(report);
  if (result) $('status').textContent = `kicked ${member.device_id}`;
  void poll();
}

// ---- one room, live --------------------------------------------------------------------------

/** Explanations of the close codes (docs/protocol.md, Close codes) this socket may meet. */
const CLOSE_REASONS = {
  1001: 'the server is shutting down',
  1006: 'the connection was lost',
  1013: 'the console fell behind the room (slow client)',
  4400: 'the server refused the hello',
  4401: 'the server wants a client token (JWT) on /ws: sign in with one',
  4403: 'refused: a private room or a full room (a JWT with the admin permission enters any room), or kicked',
  4409: 'replaced by another connection of this console',
  4429: 'too many connections or requests from this address',
};

/**
 * A socket of its own for the watched room. The console is an ordinary client: its `hello`
 * names the room as its primary room, so the server joins it there (the members see a
 * `presence.join` of `roomcast-console`) and every later `message` event of the room reaches
 * it. Recent messages come from the protocol's `history` request once the handshake is over.
 */
class RoomWatch {
  entries = new Map();
  pending = new Map();
  nextId = 0;
  /** Server time − local time, from the `connection` event: places local events on the server's clock. */
  clockOffset = 0;

  constructor(roomId, onChange, onStatus) {
    this.roomId = roomId;
    this.onChange = onChange;
    this.onStatus = onStatus;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    this.socket = new WebSocket(`${scheme}://${location.host}/ws`);
    this.socket.addEventListener('open', () => this.hello());
    this.socket.addEventListener('message', (event) => this.receive(event.data));
    this.socket.addEventListener('close', (event) => this.closed(event));
    onStatus('connecting');
  }

  hello() {
    // The token goes in `hello` rather than `?token=` in the URL, which proxies may log.
    this.send({
      type: 'hello',
      id: 'hello',
      data: { device_id: DEVICE_ID, identity: IDENTITY, room_id: this.roomId, token: session.clientToken },
    });
  }

  send(frame) {
    this.socket.send(JSON.stringify(frame));
  }

  /**
   * A request answered by `ack` or `error` with its id. For `message.send` the id is also the
   * idempotency key; it is unique per device (a fresh device id per page load, a counter).
   */
  request(type, data) {
    // A closed socket drops what it is given without a word: the answer would never come.
    if (this.socket.readyState !== WebSocket.OPEN) return Promise.reject(new Error('the socket is not open'));
    const id = `${type}-${++this.nextId}`;
    this.send({ type, id, data });
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  receive(data) {
    if (typeof data !== 'string') {
      // Binary frames are relayed verbatim to the room and never stored.
      return this.add({ key: `bin-${++this.nextId}`, ts: this.now(), text: '(binary frame)', kind: 'event' });
    }
    const frame = JSON.parse(data);
    const waiting = frame.id !== undefined && this.pending.get(frame.id);
    if (waiting && (frame.type === 'ack' || frame.type === 'error')) {
      this.pending.delete(frame.id);
      return frame.type === 'ack'
        ? waiting.resolve(frame.data)
        : waiting.reject(new Error(frame.error.message));
    }
    switch (frame.type) {
      case 'connection':
        this.clockOffset = frame.data.server_time - Date.now();
        return;
      case 'room':
        return;
      case 'offline_done':
        // Events that arrived during the handshake were held until now, so from here on the
        // socket sees every new message; `history` fills in what came before.
        this.onStatus('live');
        return void this.loadHistory();
      case 'message':
        // Direct messages to this console's device have no room_id: not part of the room.
        if (frame.data.room_id === this.roomId) this.addMessage(frame.data);
        return;
      case 'message.recalled':
        return this.recalled(frame.data.message_id);
      case 'presence.join':
      case 'presence.leave': {
        const verb = frame.type === 'presence.join' ? 'joined' : 'left';
        this.addEvent(`${frame.data.identity} (${frame.data.device_id}) ${verb}`);
        return void poll(); // the member list, now rather than at the next round
      }
      case 'system': {
        // The payload is the sender's choice; the console's own announcements carry `text`.
        const { kind, payload } = frame.data;
        const body = typeof payload?.text === 'string' ? payload.text : JSON.stringify(payload);
        return this.addEvent(`system ${kind}: ${body}`, 'system');
      }
      case 'error':
        // The hello's refusal; the close that follows says what to do about it.
        return this.addEvent(`error ${frame.error.code}: ${frame.error.message}`, 'system');
      case 'typing':
      case 'receipt':
      case 'pong':
        return;
      default:
        // Room-manager relays (no `type`, `text`, relayed unknown types) arrive as sent.
        return this.addEvent(`relay: ${JSON.stringify(frame)}`);
    }
  }

  async loadHistory() {
    try {
      const { messages } = await this.request('history', { room_id: this.roomId, limit: HISTORY_LIMIT });
      // A message may arrive both live and in the page: entries are keyed by message id.
      this.add(...messages.map((m) => this.messageEntry(m)));
    } catch (err) {
      this.addEvent(`history refused: ${err.message}`, 'system');
    }
  }

  /** message.send; the sender gets the ack (message_id, seq, ts), never its own `message` event. */
  async sendText(content) {
    const ack = await this.request('message.send', { room_id: this.roomId, kind: 'text', content });
    this.addMessage({
      ...ack,
      room_id: this.roomId,
      from: { device_id: DEVICE_ID, identity: IDENTITY },
      kind: 'text',
      content,
    });
  }

  addMessage(m) {
    this.add(this.messageEntry(m));
  }

  messageEntry(m) {
    const body = m.recalled
      ? '(recalled)'
      : m.kind === 'text'
        ? m.content
        : `${m.kind} ${JSON.stringify(m.content)}`;
    return { key: m.message_id, ts: m.ts, seq: m.seq, who: m.from.identity, text: body, kind: 'message' };
  }

  recalled(messageId) {
    const entry = this.entries.get(messageId);
    if (entry) this.add({ ...entry, text: '(recalled)' });
  }

  addEvent(text, kind = 'event') {
    this.add({ key: `event-${++this.nextId}`, ts: this.now(), text, kind });
  }

  add(...entries) {
    for (const entry of entries) this.entries.set(entry.key, entry);
    const sorted = this.sorted();
    for (const old of sorted.splice(0, sorted.length - KEEP_ENTRIES)) this.entries.delete(old.key);
    this.onChange(sorted);
  }

  /** Oldest first, by server time; seq breaks ties between messages accepted in the same ms. */
  sorted() {
    return [...this.entries.values()].sort((a, b) => a.ts - b.ts || (a.seq ?? 0) - (b.seq ?? 0));
  }

  now() {
    return Date.now() + this.clockOffset;
  }

  closed(event) {
    for (const { reject } of this.pending.values()) reject(new Error('the socket closed'));
    this.pending.clear();
    if (this.detached) return;
    const why = CLOSE_REASONS[event.code] ?? event.reason;
    this.onStatus(`closed ${event.code}${why ? `: ${why}` : ''} (open the room again to reconnect)`);
  }

  /** Closes the socket for good: its close is expected and nothing of it is shown any more. */
  close() {
    this.detached = true;
    this.socket.close(1000);
  }
}

/** The watched room, if any. */
let watch;

function openRoom(roomId) {
  watch?.close();
  $('room-panel').hidden = false;
  $('room-title').textContent = roomId;
  $('members').replaceChildren();
  $('messages').replaceChildren();
  watch = new RoomWatch(roomId, renderMessages, (status) => ($('room-status').textContent = status));
  void poll();
}

function renderMessages(entries) {
  const list = $('messages');
  // Follow new entries only when the operator has not scrolled up to read older ones.
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(
    ...entries.map((e) =>
      el(
        'li',
        { class: e.kind },
        el('span', { class: 'meta' }, time(e.ts), e.seq ? ` #${e.seq}` : ''),
        e.who ? el('strong', {}, e.who, ': ') : '',
        e.text,
      ),
    ),
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
}

$('send-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await watch.sendText($('send-text').value);
    $('send-text').value = '';
  } catch (err) {
    $('status').textContent = `send refused: ${err.message}`;
  }
});

/** POST /api/broadcast: a `system` event (kind `announcement`) to the room, or to every client. */
$('announce-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const everyone = $('announce-everyone').checked;
  const body = { kind: 'announcement', payload: { text: $('announce-text').value } };
  const result = await api(
    'POST',
    '/api/broadcast',
    everyone ? body : { ...body, room_id: watch.roomId },
  ).catch(report);
  if (!result) return;
  $('announce-text').value = '';
  $('status').textContent = `announcement sent to ${result.recipients} connection(s)`;
});

void start();
