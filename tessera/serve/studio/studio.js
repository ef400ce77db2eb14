// Tessera Studio: a page over the public Videos API (no build step). The key lives in this browser only.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { key: "", cards: new Map(), polling: new Set(), watching: false, model: null, sizeFromServer: false };

function loadKey() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromHash) {
    localStorage.setItem("tessera-key", fromHash);
    history.replaceState(null, "", location.pathname); // do not leave the secret in the address bar
  }
  state.key = localStorage.getItem("tessera-key") || "";
  $("key").value = state.key;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(path, options = {}, tries = 5) {
  const headers = { Authorization: `Bearer ${state.key}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 429 && tries > 1) {
    // Over the key's request rate: nothing was done, so wait as long as the server asks and send it again.
    await sleep(1000 * Math.min(30, Number(response.headers.get("Retry-After")) || 1));
    return api(path, options, tries - 1);
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response;
}

async function loadModel() {
  const models = await (await api("/v1/models")).json();
  const model = models.data[0];
  $("size").replaceChildren(...model.sizes.map((s) => new Option(s, s)));
  const seconds = [];
  for (let s = 1; s <= model.max_seconds; s++) seconds.push(new Option(`${s} s`, String(s)));
  $("seconds").replaceChildren(...seconds);
  $("seconds").value = String(Math.min(2, model.max_seconds));
  state.model = model;
  $("domain-hint").hidden = $("keep-words-row").hidden = model.domain !== "world";
  // Left empty, a request gets the model's own settings: shown as the placeholders.
  $("steps").placeholder = String(model.default_steps);
  $("guidance").placeholder = String(model.default_guidance);
  document.querySelectorAll(".shot-duration").forEach(fillDurations);
  if (!$("shots").children.length) { addShot(); addShot(); }
  return model;
}

async function connect() {
  $("key-status").textContent = "";
  try {
    await loadModel();
    $("key-status").textContent = "connected";
    await refreshGallery();
  } catch (error) {
    $("key-status").textContent = error.status === 401 ? "key not accepted" : error.message;
  }
}

// A new video's card goes first in the gallery and into view: from the storyboard, lower down the page, it would
// otherwise appear out of sight (and Chrome pauses a muted video that autoplays off screen).
function added(video) {
  const node = card(video);
  $("gallery").prepend(node);
  node.scrollIntoView({ block: "nearest" });
  poll(video.id);
}

function card(video) {
  let node = state.cards.get(video.id);
  if (!node) {
    node = $("card-template").content.firstElementChild.cloneNode(true);
    node.dataset.id = video.id;
    node.querySelector(".prompt").textContent = video.prompt;
    node.querySelector(".delete").addEventListener("click", () => remove(video.id));
    node.querySelector(".follow-prompt").value = video.prompt;
    node.querySelector(".remix").addEventListener("click", () => follow(node, video.id, "remix"));
    node.querySelector(".extend").addEventListener("click", () => follow(node, video.id, "extend"));
    node.querySelector(".lead-in").addEventListener("click", () => follow(node, video.id, "lead-in"));
    node.querySelector(".connect").addEventListener("click", () => follow(node, video.id, "connect"));
    state.cards.set(video.id, node);
  }
  node.querySelector(".follow").hidden = video.status !== "completed";
  const finished = video.status === "completed" && node.dataset.status !== "completed";
  node.dataset.status = video.status;
  if (finished) state.cards.forEach(connectable);  // one more video every card can be connected to
  node.querySelector("progress").value = video.progress;
  node.querySelector("progress").hidden = video.status === "completed" || video.status === "failed";
  node.querySelector(".meta").textContent = `${video.size} · ${video.seconds} s · ${video.status}`;
  const revised = node.querySelector(".revised");
  revised.hidden = !video.revised_prompt;
  revised.textContent = video.revised_prompt ? `made as: ${video.revised_prompt}` : "";
  const notice = node.querySelector(".notice");
  notice.hidden = !video.notice;
  notice.textContent = video.notice || "";
  const placeholder = node.querySelector(".placeholder");
  if (placeholder) placeholder.textContent = video.status === "failed" ? (video.error || {}).message || "failed" : `${video.status} ${video.progress}%`;
  if (video.status === "completed" && !node.querySelector("video")) showVideo(node, video);
  return node;
}

async function showVideo(node, video) {
  // <video src> cannot send the Authorization header, so the MP4 is fetched and played from a blob URL.
  const blob = await (await api(`/v1/videos/${video.id}/content`)).blob();
  const url = URL.createObjectURL(blob);
  const player = document.createElement("video");
  Object.assign(player, { src: url, controls: true, loop: true, muted: true, autoplay: true, playsInline: true });
  node.querySelector(".media").replaceChildren(player);
  const link = node.querySelector(".download");
  Object.assign(link, { href: url, download: `${video.id}.mp4`, hidden: false });
  try {
    const p = await (await api(`/v1/videos/${video.id}/provenance`)).json();
    const badge = node.querySelector(".badge");
    const signed = p.c2pa.present && !p.c2pa.tampered;
    badge.textContent = `${signed ? "✓ C2PA signed" : "✗ no valid manifest"} · ${p.watermark_detected ? "✓ watermark" : "✗ no watermark"}`;
    badge.title = p.verdict;
    badge.className = `badge ${signed && p.watermark_detected ? "ok" : "bad"}`;
  } catch (_) { /* the badge is optional */ }
}

async function refreshGallery() {
  const page = await (await api("/v1/videos?limit=50")).json();
  const gallery = $("gallery");
  gallery.replaceChildren(...page.data.map(card));
  page.data.filter((v) => v.status === "queued" || v.status === "in_progress").forEach((v) => poll(v.id));
}

// Unfinished videos are watched by one loop that lists them all once a second: one request however many are
// running (one request per video every 0.7 s is 2.9 a second for two, past the default 2 a second a key gets,
// and then the user's own requests would be refused).
async function poll(id) {
  state.polling.add(id);
  if (state.watching) return;
  state.watching = true;
  try {
    while (state.polling.size) {
      const page = await (await api("/v1/videos?limit=100")).json();
      const listed = new Map(page.data.map((v) => [v.id, v]));
      for (const watched of [...state.polling]) {
        if (!state.cards.has(watched)) { state.polling.delete(watched); continue; }  // its card was deleted here
        let video = listed.get(watched);
        if (!video) {  // not among the newest 100: asked for by itself (a 404: deleted, so no longer watched)
          try {
            video = await (await api(`/v1/videos/${watched}`)).json();
          } catch (_) {
            state.polling.delete(watched);
            continue;
          }
        }
        card(video);
        if (video.status === "completed" || video.status === "failed") state.polling.delete(watched);
      }
      if (state.polling.size) await sleep(1000);
    }
  } catch (error) {
    $("create-error").textContent = `progress stopped: ${error.message}; reload to resume`;
  } finally {
    state.watching = false;
  }
}

// A card's choice of the other completed videos it can be connected to, redrawn when one finishes or is deleted;
// the one chosen stays chosen.
function connectable(node, id) {
  const select = node.querySelector(".connect-to");
  const chosen = select.value;
  const others = [...state.cards].filter(([other, n]) => other !== id && n.dataset.status === "completed");
  select.replaceChildren(...others.map(([other, n]) => new Option(`to: ${n.querySelector(".prompt").textContent}`, other)));
  if (others.some(([other]) => other === chosen)) select.value = chosen;
  node.querySelector(".connect").disabled = !others.length;
}

// A remix (the API's /remix: this video's motion and layout under a new prompt), an extension (the video and the
// Seconds chosen in the form more, after it or, to lead in, before it) or a connection (the video, that many
// seconds of new frames, then the video chosen beside the button) of a completed video, as a new card.
async function follow(node, id, kind) {
  const error = node.querySelector(".follow-error");
  error.textContent = "";
  const prompt = node.querySelector(".follow-prompt").value;
  const seconds = $("seconds").value;
  const [path, body] = {
    remix: () => [`/v1/videos/${id}/remix`, { prompt }],
    extend: () => ["/v1/videos/extensions", { prompt, video: { id }, seconds }],
    "lead-in": () => ["/v1/videos/extensions", { prompt, video: { id }, seconds, direction: "backward" }],
    connect: () => ["/v1/videos/connections", { prompt, video: { id }, end_video: { id: node.querySelector(".connect-to").value }, seconds }],
  }[kind]();
  node.querySelectorAll(".follow button").forEach((b) => { b.disabled = true; });
  try {
    const options = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
    const video = await (await api(path, options)).json();
    added(video);
  } catch (e) {
    error.textContent = e.message;
  } finally {
    node.querySelectorAll(".follow button").forEach((b) => { b.disabled = false; });
    connectable(node, id);
  }
}

async function remove(id) {
  await api(`/v1/videos/${id}`, { method: "DELETE" });
  state.cards.get(id)?.remove();
  state.cards.delete(id);
  state.cards.forEach(connectable);  // it can be connected to no longer
}

async function submit(event) {
  event.preventDefault();
  $("create-error").textContent = "";
  $("submit").disabled = true;
  try {
    const form = new FormData();
    form.append("prompt", $("prompt").value);
    // An image this browser cannot read (a phone's HEIC in Chrome) leaves the size to the server, which reads it.
    if (!($("image").files[0] && state.sizeFromServer)) form.append("size", $("size").value);
    form.append("seconds", $("seconds").value);
    form.append("seed", $("seed").value || "0");
    if ($("keep-words").checked) form.append("recaption", "false");
    if ($("loop").checked) form.append("loop", "true");
    for (const [id, field] of [["negative", "negative_prompt"], ["steps", "steps"], ["guidance", "guidance"]]) {
      if ($(id).value.trim()) form.append(field, $(id).value.trim());
    }
    if ($("image").files[0]) form.append("input_reference", $("image").files[0]);
    const video = await (await api("/v1/videos", { method: "POST", body: form })).json();
    added(video);
  } catch (error) {
    $("create-error").textContent = error.message;
  } finally {
    $("submit").disabled = false;
  }
}

// A chosen image sets the size to the model's nearest its aspect ratio (as the API does when no size is sent),
// so a wide image is not cropped to a square; the size can still be changed after.
async function sizeFromImage() {
  const file = $("image").files[0];
  state.sizeFromServer = false;
  if (!file || !state.model) return;
  try {
    const bitmap = await createImageBitmap(file);
    const ratio = bitmap.width / bitmap.height;
    bitmap.close();
    const distance = (size) => { const [w, h] = size.split("x").map(Number); return Math.abs(Math.log(w / h / ratio)); };
    $("size").value = state.model.sizes.reduce((best, s) => (distance(s) < distance(best) ? s : best));
  } catch (_) {
    state.sizeFromServer = true; // not an image this browser reads: the server sizes it, or says what is wrong
  }
}

// -- storyboard: shots on a timeline, each a prompt, a duration and how it joins the previous one ----------
function durations() {
  // Shots come in blocks of 4 frames (0.5 s at 8 fps): the durations the model can make.
  const model = state.model || { fps: 8, max_seconds: 12 };
  const step = 4 / model.fps;
  const out = [];
  for (let d = step; d <= model.max_seconds + 1e-9; d += step) out.push(Number(d.toFixed(3)));
  return out;
}

function fillDurations(select) {
  const value = select.value || "1";
  select.replaceChildren(...durations().map((d) => new Option(`${d} s`, String(d))));
  select.value = durations().map(String).includes(value) ? value : "1";
}

function addShot(prompt = "", duration = "1", transition = "continuous") {
  const node = $("shot-template").content.firstElementChild.cloneNode(true);
  node.querySelector(".shot-prompt").value = prompt;
  fillDurations(node.querySelector(".shot-duration"));
  node.querySelector(".shot-duration").value = duration;
  node.querySelector(".shot-transition").value = transition;
  node.querySelector(".shot-up").addEventListener("click", () => { node.previousElementSibling?.before(node); drawTimeline(); });
  node.querySelector(".shot-down").addEventListener("click", () => { node.nextElementSibling?.after(node); drawTimeline(); });
  node.querySelector(".shot-remove").addEventListener("click", () => { node.remove(); drawTimeline(); });
  node.querySelectorAll("select, textarea").forEach((el) => el.addEventListener("input", drawTimeline));
  node.querySelector(".shot-transition").addEventListener("change", drawTimeline);
  $("shots").append(node);
  drawTimeline();
}

function shots() {
  let at = 0;
  return [...$("shots").children].map((node, i) => {
    const duration = Number(node.querySelector(".shot-duration").value);
    const shot = { prompt: node.querySelector(".shot-prompt").value.trim(), duration, at,
      transition: i === 0 ? "cut" : node.querySelector(".shot-transition").value };
    at += duration;
    return shot;
  });
}

function drawTimeline() {
  // The first shot opens the film: it joins nothing, so it shows no "join" choice (a disabled one read
  // "continuous", which it is not). visibility, not display: the row keeps its layout.
  [...$("shots").children].forEach((node, i) => {
    node.querySelector(".shot-transition").disabled = i === 0;
    node.querySelector(".shot-join").style.visibility = i === 0 ? "hidden" : "";
    // Only a cut can start from an image: a continuing shot starts from the previous shot's frames.
    node.querySelector(".shot-image-row").hidden = i > 0 && node.querySelector(".shot-transition").value !== "cut";
  });
  const list = shots();
  const total = list.reduce((s, x) => s + x.duration, 0) || 1;
  $("timeline").replaceChildren(...list.map((shot, i) => {
    const el = document.createElement("div");
    el.className = `segment ${shot.transition}`;
    el.style.flex = String(shot.duration / total);
    el.textContent = `${i + 1} · ${shot.at}–${shot.at + shot.duration} s`;
    el.title = shot.prompt;
    return el;
  }));
}

function dataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function renderBoard() {
  $("board-error").textContent = "";
  $("render-board").disabled = true;
  try {
    const list = shots();
    const nodes = [...$("shots").children];
    for (const [i, shot] of list.entries()) {  // a cut's image goes as input_reference does: a data URL
      const file = nodes[i].querySelector(".shot-image").files[0];
      if (file && shot.transition === "cut") shot.image = { image_url: await dataUrl(file) };
    }
    const body = { shots: list, size: $("size").value, seed: Number($("seed").value || 0) };
    if ($("steps").value.trim()) body.steps = Number($("steps").value);  // the Advanced settings above, as a video's
    if ($("guidance").value.trim()) body.guidance = Number($("guidance").value);
    const video = await (await api("/v1/storyboards", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    })).json();
    added(video);
  } catch (error) {
    $("board-error").textContent = error.message;
  } finally {
    $("render-board").disabled = false;
  }
}

$("add-shot").addEventListener("click", () => addShot());
$("render-board").addEventListener("click", renderBoard);

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.key = $("key").value.trim();
  localStorage.setItem("tessera-key", state.key);
  connect();
});
$("create-form").addEventListener("submit", submit);
$("image").addEventListener("change", sizeFromImage);
// A loop is at most the model's longest loop (one call, less the block that closes it): longer durations go grey.
$("loop").addEventListener("change", () => {
  const longest = Math.floor((state.model && state.model.longest_loop_seconds) || 0);
  const loop = $("loop").checked;
  [...$("seconds").options].forEach((o) => { o.disabled = loop && Number(o.value) > longest; });
  if (loop && longest >= 1 && Number($("seconds").value) > longest) $("seconds").value = String(longest);
});
$("size").addEventListener("change", () => { state.sizeFromServer = false; }); // a size chosen by hand is kept
loadKey();
if (state.key) connect();
