// The chat page: ask for a name, connect to /chat, show messages, send them.
//
// Messages are JSON, {"sender": ..., "message": ...}, both ways. Every one is
// put on the page as text (textContent), never as HTML: a message such as
// <img src=x onerror=...> shows as those characters, and runs nothing.

const FIRST_RETRY_MS = 500; // wait this long before reconnecting the first time,
const MAX_RETRY_MS = 8000; // then twice as long each time, up to this
// The servers take messages of up to 4096 bytes of JSON and close the connection
// on a larger one: check before sending. Bytes, not characters: in UTF-8 a
// Chinese character takes 3 bytes, so 2000 characters may be 6000 bytes.
const MAX_MESSAGE_BYTES = 4096;

const statusLine = document.querySelector("#status");
const joinForm = document.querySelector("#join-form");
const sendForm = document.querySelector("#send-form");
const messageInput = document.querySelector("#message");
const sendButton = sendForm.querySelector("button");
const messageList = document.querySelector("#messages");

let socket = null;
let myName = "";
let failedAttempts = 0; // connections lost or refused since the last success

joinForm.addEventListener("submit", (event) => {
  event.preventDefault(); // stay on this page instead of submitting the form
  myName = joinForm.elements.name.value.trim();
  if (!myName) return;
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
  if (new TextEncoder().encode(data).length > MAX_MESSAGE_BYTES) {
    showStatus("connected", "connected; that message is too long to send");
    return; // keep the text, so it can be shortened
  }
  socket.send(data);
  messageInput.value = "";
  showStatus("connected", "connected");
});

function connect() {
  showStatus("connecting", "connecting...");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}/chat`);
  socket.addEventListener("open", () => {
    failedAttempts = 0;
    showStatus("connected", "connected");
    allowSending(true);
  });
  socket.addEventListener("message", (event) => showMessage(parse(event.data)));
  // "close" comes both when an open connection ends and when connecting fails.
  socket.addEventListener("close", (event) => {
    allowSending(false);
    reconnectLater(event.reason);
  });
}

function reconnectLater(reason) {
  // Exponential backoff: while the server is down, try less and less often.
  // The random factor spreads out the clients that all lost it at once.
  const backoff = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failedAttempts);
  const delay = backoff * (0.5 + Math.random() / 2);
  failedAttempts += 1;
  const why = reason ? ` (${reason})` : "";
  const seconds = (delay / 1000).toFixed(1);
  showStatus("offline", `disconnected${why}; trying again in ${seconds} s`);
  setTimeout(connect, delay);
}

function parse(data) {
  try {
    return JSON.parse(data);
  } catch {
    return { sender: "server", message: String(data) };
  }
}

function showMessage({ sender, message }) {
  const item = document.createElement("li");
  item.className = sender === "server" ? "message from-server" : "message";
  const who = document.createElement("span");
  who.className = "sender";
  who.textContent = `${sender}: `;
  const what = document.createElement("span");
  what.className = "text";
  what.textContent = message;
  item.append(who, what);
  messageList.append(item); // chat.css fades it in
  messageList.scrollTop = messageList.scrollHeight; // show the newest
}

function showStatus(state, text) {
  statusLine.dataset.state = state; // chat.css colours the dot by state
  statusLine.textContent = text;
}

function allowSending(allowed) {
  messageInput.disabled = !allowed;
  sendButton.disabled = !allowed;
  if (allowed) messageInput.focus();
}
