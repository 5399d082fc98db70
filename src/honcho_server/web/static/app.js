// honcho-server memory explorer: the chat playground's streaming (everything else is htmx).
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function showEvidence(box, ws, evidence) {
  box.replaceChildren();
  const conclusions = (evidence && evidence.conclusions) || [];
  const messages = (evidence && evidence.messages) || [];
  if (!conclusions.length && !messages.length) {
    box.append(el("p", { class: "muted" }, "The model read no conclusions or messages."));
    return;
  }
  if (conclusions.length) {
    box.append(el("h3", {}, "Conclusions"));
    const list = el("ul", { class: "card", id: "evidence-conclusions" });
    for (const c of conclusions) {
      const item = el("li");
      item.append(el("span", { class: "badge " + c.level }, c.level), " ");
      item.append(el("a", { href: "/ui/w/" + encodeURIComponent(ws) + "/c/" + encodeURIComponent(c.id) }, c.content));
      list.append(item);
    }
    box.append(list);
  }
  if (messages.length) {
    box.append(el("h3", {}, "Messages"));
    const list = el("ul", { class: "card", id: "evidence-messages" });
    for (const m of messages) {
      const href = "/ui/w/" + encodeURIComponent(ws) + "/s/" + encodeURIComponent(m.session_id) +
        "?jump=" + encodeURIComponent(m.id) + "#m-" + encodeURIComponent(m.id);
      const item = el("li");
      item.append(el("a", { href: href }, m.peer_id + " in " + m.session_id + " · " + m.id));
      list.append(item);
    }
    box.append(list);
  }
}

async function ask(form) {
  const ws = JSON.parse(document.getElementById("chat-ws").textContent);
  const answer = document.getElementById("answer");
  const state = document.getElementById("chat-state");
  const evidence = document.getElementById("evidence");
  const button = form.querySelector("button");
  const data = Object.fromEntries(new FormData(form).entries());
  answer.textContent = "";
  answer.classList.remove("bad");
  state.textContent = "asking…";
  button.disabled = true;
  let chunks = 0;
  try {
    const response = await fetch(form.dataset.action, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrfToken() },
      body: JSON.stringify(data),
      credentials: "same-origin",
    });
    if (!response.ok) {
      let detail = "HTTP " + response.status;
      try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
      throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let finished = false;
    for (;;) {  // to the end of the body: the server closes it right after the last event
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of block.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const event = JSON.parse(line.slice(5).trim());
          if (event.error) throw new Error(event.error);
          if (event.delta && event.delta.content) {
            answer.textContent += event.delta.content;
            chunks += 1;
            state.textContent = "streaming… " + chunks + " chunks";
          }
          if (event.done) {
            finished = true;
            showEvidence(evidence, ws, event.evidence);
          }
        }
      }
    }
    state.textContent = finished ? "done · " + chunks + " chunks" : "stopped before the end";
    answer.dataset.chunks = String(chunks);
    answer.dataset.done = finished ? "true" : "false";
  } catch (error) {
    answer.classList.add("bad");
    answer.textContent = "Refused or failed: " + error.message;
    state.textContent = "";
    answer.dataset.done = "error";
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("chat-form");
  if (form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      ask(form);
    });
  }
});
