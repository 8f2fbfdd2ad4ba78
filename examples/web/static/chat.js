// The chat page: ask for a name, connect to /chat, show messages, send them.
//
// Messages are JSON, {"sender": ..., "message": ...}, both ways. Every one is
// put on the page as text (textContent), never as HTML: a message such as
// <img src=x onerror=...> shows as those characters, and runs nothing.
//
// Two additions, for the servers that have them (redis_streams_chat.py); the
// others never see them. A room: the page at /?room=garden talks in the room
// "garden" (/chat?room=garden). Catch-up: a message may carry its "id"; the
// page remembers the last one it showed and, when it reconnects, asks for what
// came after it (/chat?since=ID). And a message from "server" with a "status"
// ("degraded", then "ok") goes to the status line, not to the list.

const FIRST_RETRY_MS = 500; // wait this long before reconnecting the first time,
const MAX_RETRY_MS = 8000; // then twice as long each time, up to this
// The servers take messages of up to 4096 bytes of JSON and close the connection
// on a larger one: check before sending. Bytes, not characters: in UTF-8 a
// Chinese character takes 3 bytes, so 2000 characters may be 6000 bytes.
const MAX_MESSAGE_BYTES = 4096;
const MAX_CHARACTERS = 2000; // the page's own limit, so that nobody is surprised...
const COUNTER_FROM = 1800; // ...with a counter that shows from this many on
const NEAR_BOTTOM_PX = 40; // this close to the newest message counts as reading it

const statusLine = document.querySelector("#status");
const retryButton = document.querySelector("#retry-now");
const joinForm = document.querySelector("#join-form");
const sendForm = document.querySelector("#send-form");
const messageInput = document.querySelector("#message");
const sendButton = sendForm.querySelector("button");
const counter = document.querySelector("#counter");
const messageList = document.querySelector("#message-list");
const scroller = document.querySelector("#messages"); // the list's scrolling box
const jumpButton = document.querySelector("#jump-to-newest");

let socket = null;
let myName = "";
let failedAttempts = 0; // connections lost or refused since the last success
let retryTimer = null;
let offlineSince = null; // when the open connection was lost, until the next one
let focusWasInForm = true; // where to put the focus back when sending is allowed
const room = new URLSearchParams(location.search).get("room"); // null: the default
let lastId = null; // the id of the last message shown, if the server gives ids
let degraded = null; // what the server said is wrong with the chat, if anything

joinForm.addEventListener("submit", (event) => {
  event.preventDefault(); // stay on this page instead of submitting the form
  myName = joinForm.elements.name.value.trim();
  if (!myName) return; // the field's pattern asks for a letter or digit first
  document.querySelector("#me").textContent = myName;
  joinForm.hidden = true;
  sendForm.hidden = false;
  connect();
});

// Enter in the text field submits the form.
sendForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = messageInput.value;
  if (!text || socket === null || socket.readyState !== WebSocket.OPEN) return;
  const data = JSON.stringify({ sender: myName, message: text });
  if (
    characterCount(text) > MAX_CHARACTERS ||
    new TextEncoder().encode(data).length > MAX_MESSAGE_BYTES
  ) {
    showStatus("connected", "connected; that message is too long to send");
    return; // keep the text, so it can be shortened
  }
  socket.send(data);
  messageInput.value = "";
  showCounter();
  showConnected();
});

messageInput.addEventListener("input", showCounter);

function showCounter() {
  // Characters as people count them: an emoji is one, not two UTF-16 units.
  const left = MAX_CHARACTERS - characterCount(messageInput.value);
  counter.hidden = MAX_CHARACTERS - left < COUNTER_FROM;
  counter.textContent = left >= 0 ? `${left} left` : `${-left} too many`;
  counter.classList.toggle("over", left < 0);
  messageInput.setAttribute("aria-invalid", String(left < 0));
}

function characterCount(text) {
  return [...text].length;
}

function connect() {
  retryTimer = null;
  retryButton.hidden = true;
  // Said once: the retries after a failure leave the status as it is.
  if (failedAttempts === 0) showStatus("connecting", "connecting...");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}/chat${chatQuery()}`);
  socket.addEventListener("open", () => {
    failedAttempts = 0;
    if (offlineSince !== null) showGap(offlineSince, new Date());
    offlineSince = null;
    degraded = null; // this connection's server will say so again
    showConnected();
    allowSending(true);
  });
  socket.addEventListener("message", (event) => receive(parse(event.data)));
  // "close" comes both when an open connection ends and when connecting fails.
  socket.addEventListener("close", (event) => {
    const wasOpen = !messageInput.disabled;
    allowSending(false);
    if (wasOpen) {
      offlineSince = new Date();
      // Said once, through the live region; the retries below do not repeat it.
      const why = event.reason ? ` (${event.reason})` : "";
      showStatus("offline", `disconnected${why}; reconnecting`);
    }
    reconnectLater();
  });
}

function chatQuery() {
  // Nothing to add for a server that has no rooms and gives no ids: /chat.
  const query = new URLSearchParams();
  if (room !== null) query.set("room", room);
  if (lastId !== null) query.set("since", lastId);
  const text = query.toString();
  return text ? `?${text}` : "";
}

function receive(data) {
  if (data.sender === "server" && typeof data.status === "string") {
    degraded = data.status === "ok" ? null : String(data.message);
    showConnected();
    return;
  }
  if (typeof data.id === "string") lastId = data.id;
  showMessage(data);
}

function showConnected() {
  if (degraded === null) showStatus("connected", "connected");
  else showStatus("degraded", degraded);
}

function reconnectLater() {
  // Exponential backoff: while the server is down, try less and less often.
  // The random factor spreads out the clients that all lost it at once.
  const backoff = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failedAttempts);
  const delay = backoff * (0.5 + Math.random() / 2);
  failedAttempts += 1;
  if (offlineSince === null) showStatus("offline", "not connected; reconnecting");
  retryButton.hidden = false; // no need to wait, if you know it is back
  retryTimer = setTimeout(connect, delay);
}

function retryNow() {
  if (retryTimer === null) return; // connected, or connecting already
  clearTimeout(retryTimer);
  connect();
}

retryButton.addEventListener("click", retryNow);
window.addEventListener("online", retryNow); // the network is back
// Back to a tab that was hidden: the browser slows down the timers of hidden
// tabs, and a phone may have slept meanwhile. Try at once, not at the timer.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") retryNow();
});

function parse(data) {
  try {
    const parsed = JSON.parse(data);
    if (parsed !== null && typeof parsed === "object") return parsed;
  } catch {
    // not JSON: shown as it came, below
  }
  return { sender: "server", message: String(data) };
}

function showMessage({ sender, message }) {
  const item = document.createElement("li");
  item.className = sender === "server" ? "message from-server" : "message";
  // <bdi> and dir="auto": a name or a message in Arabic or Hebrew is laid out
  // right to left on its own, without reordering what is around it.
  const who = document.createElement("bdi");
  who.className = "sender";
  who.textContent = String(sender);
  const what = document.createElement("span");
  what.className = "text";
  what.dir = "auto";
  what.textContent = String(message);
  item.append(who, ": ", what);
  addToList(item);
}

function showGap(from, to) {
  const item = document.createElement("li");
  item.className = "gap";
  // With an id to start from, the server sends what was said meanwhile.
  const meanwhile = lastId === null ? "is not shown" : "follows";
  item.textContent =
    `offline from ${from.toLocaleTimeString()} to ${to.toLocaleTimeString()}: ` +
    `what was said meanwhile ${meanwhile}`;
  addToList(item);
}

function addToList(item) {
  // Follow the newest message only if the reader was already there: someone
  // reading older messages keeps their place, and gets a button instead.
  const gap = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
  messageList.append(item); // chat.css fades it in
  if (gap <= NEAR_BOTTOM_PX) {
    scroller.scrollTop = scroller.scrollHeight;
  } else {
    jumpButton.hidden = false;
  }
}

jumpButton.addEventListener("click", () => {
  scroller.scrollTop = scroller.scrollHeight;
});

scroller.addEventListener("scroll", () => {
  const gap = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
  if (gap <= NEAR_BOTTOM_PX) {
    jumpButton.hidden = true; // caught up
  }
});

function showStatus(state, text) {
  statusLine.dataset.state = state; // chat.css colours the dot by state
  // A live region announces every change: change it only when there is news.
  if (statusLine.textContent !== text) statusLine.textContent = text;
}

function allowSending(allowed) {
  // Where the focus was, as the connection is lost (not when a retry fails).
  if (!allowed && !messageInput.disabled) {
    focusWasInForm = sendForm.contains(document.activeElement);
  }
  messageInput.disabled = !allowed;
  sendButton.disabled = !allowed;
  // Back to the field only if the reader was there (or has just joined): one
  // who moved to the messages, say, stays where they are.
  const focusIsNowhere = document.activeElement === document.body;
  if (allowed && focusWasInForm && focusIsNowhere) messageInput.focus();
}
