// inceptionism studio: a plain script over the HTTP API (/openapi.json); no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const HISTORY_KEY = "inceptionism.history";
const PAGE = 24; // channel pictures shown per "more"
const state = { settings: null, file: null, fileUrl: null, current: null, events: null, shownChannels: 0, layers: [] };

async function api(path, options) {
  const response = await fetch(path, options);
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    throw Object.assign(new Error(message), { status: response.status });
  }
  return response;
}

// --- form -----------------------------------------------------------------------

function showValue(id) {
  const out = document.querySelector(`output[for=${id}]`);
  if (out) out.textContent = $(id).value;
}

function setField(id, value) {
  const el = $(id);
  if (value === undefined || value === null) return;
  if (el.type === "checkbox") el.checked = Boolean(value);
  else el.value = Array.isArray(value) ? value.join(":") : value;
  showValue(id);
}

// The form's parameter controls are made from /api/settings' "parameters": the server's one
// declaration of each parameter (name, kind, default, bounds, choices, help, widget).
function generated() {
  return state.settings.parameters.filter((p) => p.widget && p.widget.control !== "custom");
}

function makeControl(p, prefix = "") {
  const w = p.widget;
  const label = document.createElement("label");
  label.title = p.help;
  let input;
  if (w.control === "select") {
    input = document.createElement("select");
    for (const choice of p.choices) input.add(new Option(choice, choice));
  } else {
    input = document.createElement("input");
    input.type = { range: "range", number: "number", checkbox: "checkbox", text: "text" }[w.control];
    const min = w.min ?? p.min, max = w.max ?? p.max;
    if (min !== null && input.type !== "text") input.min = min;
    if (max !== null && input.type !== "text") input.max = max;
    if (w.step !== null) input.step = w.step;
    if (w.placeholder) input.placeholder = w.placeholder;
    if (w.section === "classes" && input.type === "text") input.setAttribute("list", "class-names");
  }
  input.id = prefix + p.name;
  if (w.control === "checkbox") {
    label.className = "check";
    label.append(input, ` ${w.label}`);
  } else {
    label.className = w.control === "range" ? "slider" : "field";
    label.append(`${w.label} `);
    if (w.control === "range") {
      const shown = document.createElement("output");
      shown.htmlFor = prefix + p.name;
      label.append(shown);
      input.addEventListener("input", () => showValue(prefix + p.name));
    }
    label.append(input);
  }
  return label;
}

function buildControls() {
  for (const p of generated()) $(`fields-${p.widget.section}`).append(makeControl(p));
  for (const p of generated()) setField(p.name, p.default);
}

function readControl(p, prefix = "") {
  const el = $(prefix + p.name);
  if (p.kind === "boolean") return el.checked;
  const text = el.value.trim();
  if (text === "") return p.nullable ? undefined : p.default;
  if (p.kind === "integer") return parseInt(text, 10);
  if (p.kind === "number") return parseFloat(text);
  return text;
}

function applyPreset(name) {
  const values = { ...state.settings.defaults, ...state.settings.presets[name] };
  for (const key of Object.keys(state.settings.presets[name])) setField(key, values[key]);
}

function startsFromNoise() {
  return document.querySelector("input[name=start]:checked").value === "noise";
}

function collectParams() {
  const p = { preset: document.querySelector("input[name=preset]:checked").value, model: $("model").value };
  const classes = !$("class-fields").hidden;
  for (const param of generated()) {
    if (param.widget.section === "classes" && !classes) continue;
    if (param.widget.section === "guide" && !$("guide").files.length) continue;
    const value = readControl(param);
    if (value !== undefined) p[param.name] = value;
  }
  if (startsFromNoise()) p.size = [parseInt($("noise-width").value, 10), parseInt($("noise-height").value, 10)];
  else p.max_size = parseInt($("max_size").value, 10);
  if ($("layers").value) p.layers = $("layers").value + ($("channel").value !== "" ? `:${$("channel").value}` : "");
  if (state.concept) p.layers = state.concept.term;  // dream towards the chosen concept
  return p;
}

async function loadIntoForm(entry) {
  const p = entry.params;
  const preset = document.querySelector(`input[name=preset][value="${p.preset || "classic"}"]`);
  if (preset) { preset.checked = true; applyPreset(preset.value); }
  if (p.model && p.model !== $("model").value) { $("model").value = p.model; await modelChanged(); }
  for (const param of generated()) setField(param.name, p[param.name] ?? (param.name === "target_class" ? p.class : undefined));
  setField("max_size", p.max_size);
  const [layer, channel] = (p.layers || "").split(":");
  $("layers").value = state.layers.includes(layer) ? layer : "";
  $("channel").value = channel || "";
  layerChanged(false);
  if ((p.layers || "").startsWith("concept:")) chooseConcept({ term: p.layers, name: p.layers });
  const noise = !entry.hasInput;
  document.querySelector(`input[name=start][value=${noise ? "noise" : "photo"}]`).checked = true;
  startChanged();
  if (noise && p.size) { $("noise-width").value = p.size[0]; $("noise-height").value = p.size[1]; }
  if (!noise) {
    const blob = await (await api(`/api/dreams/${entry.id}/input`)).blob();
    setFile(new File([blob], entry.source, { type: blob.type }));
  }
  $("dream-form").scrollIntoView({ behavior: "smooth" });
  $("start").focus();
}

function setFile(file) {
  if (!file.type.startsWith("image/")) { showError(`${file.name} is not an image`); return; }
  state.file = file;
  if (state.fileUrl) URL.revokeObjectURL(state.fileUrl);
  state.fileUrl = URL.createObjectURL(file);
  $("drop-preview").src = state.fileUrl;
  $("drop-preview").hidden = false;
  $("drop-text").textContent = `${file.name} · choose another`;
  showError("");
}

function startChanged() {
  const noise = startsFromNoise();
  $("drop").hidden = noise;
  $("noise-size").hidden = !noise;
}

function showError(message) { $("form-error").textContent = message; }

// --- models, layers, channels ----------------------------------------------------

async function modelChanged() {
  const model = $("model").value;
  const select = $("layers");
  select.length = 1;
  state.layers = [];
  try {
    const { layers } = await (await api(`/api/models/${model}/layers`)).json();
    for (const layer of layers) {
      select.add(new Option(`${layer.name} · ${layer.channels} ch`, layer.name));
      state.layers.push(layer.name);
    }
  } catch (error) { showError(error.message); }
  layerChanged(true);
  loadClasses(model);
}

function layerChanged(reset) {
  $("pick-channel").disabled = !$("layers").value;
  if (reset) $("channel").value = "";
  $("channel-picker").hidden = true;
  $("channel-examples").hidden = true;
  state.examplesAsked = (state.examplesAsked || 0) + 1;  // examples still on their way are for the old layer
  $("channel-variants").hidden = $("channel-variants-button").hidden = $("grow").hidden = true;
  $("grow-result").hidden = true;
  state.picturesAsked = (state.picturesAsked || 0) + 1;
  $("channel-grid").textContent = "";
  state.shownChannels = 0;
  chooseConcept(null);
  showConcepts($("model").value, $("layers").value);
}

// The chosen layer's concepts, where the studio has a concepts folder (serve --concepts); one
// chosen replaces the layer and channel as what the dream steers towards.
async function showConcepts(model, layer) {
  const panel = $("concepts"), grid = $("concept-grid");
  const asked = state.conceptsAsked = (state.conceptsAsked || 0) + 1;
  panel.hidden = true;
  grid.textContent = "";
  if (!layer) return;
  let sets;
  try {
    ({ sets } = await (await api(`/api/concepts?model=${encodeURIComponent(model)}&layer=${encodeURIComponent(layer)}`)).json());
  } catch (_) { return; }
  if (asked !== state.conceptsAsked || !sets.length) return;
  for (const set of sets) {
    for (const c of set.concepts) {
      const button = document.createElement("button");
      button.type = "button";
      button.setAttribute("role", "option");
      const name = `concept ${c.index} of ${set.name === "-" ? "this folder" : set.name} (${set.method})`;
      button.setAttribute("aria-label", `${name}: ${c.classes.join(", ")}`);
      button.title = `${name}\n${c.classes.join(", ")}`;
      button.setAttribute("aria-selected", "false");
      const img = document.createElement("img"), label = document.createElement("span");
      img.loading = "lazy";
      img.alt = "";
      img.src = c.picture;
      label.textContent = c.index;
      button.append(img, label);
      button.addEventListener("click", () => {
        for (const b of grid.children) b.setAttribute("aria-selected", String(b === button));
        chooseConcept({ ...c, name });
      });
      grid.append(button);
    }
  }
  panel.hidden = false;
}

function chooseConcept(concept) {
  state.concept = concept;
  $("concept-chosen").hidden = !concept;
  $("concept-examples").hidden = !concept;
  if (!concept) {
    for (const b of $("concept-grid").children) b.setAttribute("aria-selected", "false");
    return;
  }
  $("concept-chosen").querySelector("span").textContent = concept.name;
  $("concept-examples").hidden = !concept.examples;
  if (concept.examples) $("concept-examples").querySelector("img").src = concept.examples;
}

function moreChannels() {
  const model = $("model").value, layer = $("layers").value;
  const total = parseInt($("layers").selectedOptions[0].textContent.split("·")[1], 10);
  const stop = Math.min(total, state.shownChannels + PAGE);
  for (let c = state.shownChannels; c < stop; c++) {
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("role", "option");
    button.setAttribute("aria-label", `channel ${c}`);
    button.setAttribute("aria-selected", String($("channel").value === String(c)));
    button.innerHTML = `<img loading="lazy" alt="" src="/api/models/${model}/layers/${layer}/channels/${c}"><span>${c}</span>`;
    retryPicture(button.querySelector("img"));
    button.addEventListener("click", () => {
      $("channel").value = c;
      for (const b of $("channel-grid").children) b.setAttribute("aria-selected", String(b === button));
      showExamples(model, layer, c);
      offerVariants(model, layer, c);
      offerPictures(model, layer, c);
    });
    $("channel-grid").append(button);
  }
  state.shownChannels = stop;
  $("more-channels").hidden = stop >= total;
}

// Dataset examples of the chosen channel, where the studio has a photo folder (else a 404: none
// shown). Their scan is counted with the pictures being drawn: a 503 says to ask again later.
async function showExamples(model, layer, channel) {
  const figure = $("channel-examples"), img = figure.querySelector("img");
  const asked = state.examplesAsked = (state.examplesAsked || 0) + 1;  // a later choice wins
  figure.hidden = true;
  img.removeAttribute("src");
  const url = `/api/models/${model}/layers/${layer}/channels/${channel}/examples`;
  for (let tries = 8; tries > 0; tries--) {
    let response;
    try { response = await fetch(url); } catch (_) { return; }
    if (asked !== state.examplesAsked) return;
    if (response.status === 503) {
      const wait = 1000 * (parseInt(response.headers.get("Retry-After"), 10) || 5);
      await new Promise((done) => setTimeout(done, wait));
      if (asked !== state.examplesAsked) return;
      continue;
    }
    if (!response.ok) return;  // no photo folder, or no such channel: none shown
    img.src = URL.createObjectURL(await response.blob());
    img.onload = () => { URL.revokeObjectURL(img.src); figure.hidden = asked !== state.examplesAsked; };
    return;
  }
}

// Pictures grown with visualize's parameters (its declarations, as /api/settings gives them:
// "picture_parameters"), of the chosen channel or any terms of the layer written beside it.
function buildPictureControls() {
  // Enter in these fields grows pictures; it must not submit the dream form they sit in
  $("grow").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.tagName === "INPUT") {
      event.preventDefault();
      $("grow-button").click();
    }
  });
  for (const p of state.settings.picture_parameters || []) {
    if (!p.widget) continue;
    $("fields-visualize").append(makeControl(p, "vis-"));
    setField(`vis-${p.name}`, p.default);
  }
}

function offerPictures(model, layer, channel) {
  const offered = (state.settings.picture_parameters || []).filter((p) => p.widget);
  const figure = $("grow-result"), caption = $("grow-caption"), button = $("grow-button");
  state.picturesAsked = (state.picturesAsked || 0) + 1;  // pictures still on their way are for another channel
  figure.hidden = true;
  caption.textContent = "";
  $("grow").hidden = !offered.length;
  $("grow-targets").value = String(channel);
  button.disabled = false;
  button.textContent = "Grow";
  button.onclick = async () => {
    const asked = ++state.picturesAsked, targets = $("grow-targets").value, params = {};
    for (const p of offered) {
      const value = readControl(p, "vis-");
      if (value !== undefined && value !== p.default) params[p.name] = value;
    }
    button.disabled = true;
    button.textContent = "Growing…";
    try {
      let response;
      for (let tries = 8; !response; tries--) {  // 503 while other pictures are drawn: ask again a little later
        try {
          response = await api(`/api/models/${model}/layers/${layer}/pictures`, {
            method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ targets, params }),
          });
        } catch (error) {
          if (error.status !== 503 || tries <= 0) throw error;
          await new Promise((resolve) => setTimeout(resolve, 3000 + Math.random() * 2000));
        }
      }
      const blob = await response.blob();
      if (asked !== state.picturesAsked) return;  // another channel, or another request, since
      const img = figure.querySelector("img");
      if (img.src) URL.revokeObjectURL(img.src);
      img.src = URL.createObjectURL(blob);
      caption.textContent = `${targets}: saved with its recipe (visualize --config)`;
      figure.hidden = false;
    } catch (error) {
      if (asked !== state.picturesAsked) return;
      caption.textContent = `Could not grow them: ${error.message}`;
      figure.hidden = false;
    } finally {
      if (asked === state.picturesAsked) {
        button.disabled = false;
        button.textContent = "Grow";
      }
    }
  };
}

// Several pictures of the chosen channel, on request: they take the server a few seconds.
function offerVariants(model, layer, channel) {
  const button = $("channel-variants-button"), figure = $("channel-variants"), img = figure.querySelector("img");
  img.onload = img.onerror = null;  // another channel's pictures still on their way are not shown for this one
  img.removeAttribute("src");
  figure.hidden = true;
  button.hidden = false;
  button.disabled = false;
  button.textContent = "Other pictures of this channel";
  button.onclick = () => {
    const url = `/api/models/${model}/layers/${layer}/channels/${channel}/variants`;
    let tries = 8;  // the server answers 503 while it draws other pictures: ask again
    button.disabled = true;
    button.textContent = "Drawing four pictures…";
    img.onload = () => { figure.hidden = false; button.hidden = true; };
    img.onerror = () => {
      if (tries-- > 0 && img.src.includes(url)) {
        setTimeout(() => { img.src = `${url}?retry=${tries}`; }, 3000 + Math.random() * 2000);
      } else {
        button.disabled = false;
        button.textContent = "Could not draw them: try again";
      }
    };
    img.src = url;
  };
}

// The server draws a few batches of pictures at a time and answers 503 to more: try again later.
function retryPicture(img, tries = 8) {
  img.addEventListener("error", function again() {
    if (tries-- <= 0 || !img.isConnected) return;
    const src = img.src.split("?")[0];
    setTimeout(() => { img.src = `${src}?retry=${tries}`; }, 3000 + Math.random() * 2000);
  });
}

async function loadClasses(model) {
  const list = $("class-names");
  list.textContent = "";
  try {
    const { classes, groups } = await (await api(`/api/classes?model=${encodeURIComponent(model)}`)).json();
    for (const name of [...groups, ...classes]) list.append(new Option(name));
    $("class-fields").hidden = classes.length === 0; // guide and mask work on any network
  } catch (_) { $("class-fields").hidden = true; }
}

// --- dreaming --------------------------------------------------------------------

async function startDream(event) {
  event.preventDefault();
  showError("");
  const noise = startsFromNoise();
  if (!noise && !state.file) { showError("Choose a photo first, or start from noise."); return; }
  const params = collectParams();
  const body = new FormData();
  if (!noise) body.append("image", state.file, state.file.name);
  else body.append("noise", "true");
  if ($("guide").files.length) body.append("guide", $("guide").files[0]);
  if ($("mask").files.length) body.append("mask", $("mask").files[0]);
  body.append("params", JSON.stringify(params));
  $("start").disabled = true;
  $("status").textContent = "Sending…";
  try {
    const { id } = await (await api("/api/dreams", { method: "POST", body })).json();
    const entry = { id, params, created: Date.now(), source: noise ? "noise" : state.file.name, hasInput: !noise, status: "queued" };
    saveHistory([entry, ...loadHistory()]);
    follow(entry);
  } catch (error) {
    showError(error.message);
    $("status").textContent = "Not started.";
  } finally {
    $("start").disabled = false;
  }
}

function follow(entry) {
  if (state.events) state.events.close();
  state.current = entry;
  $("cancel").hidden = false;
  $("progress").hidden = false;
  $("progress").value = 0;
  $("live").hidden = false;
  $("live-image").removeAttribute("src");
  $("live-caption").textContent = "";
  $("result").hidden = true;
  const events = new EventSource(`/api/dreams/${entry.id}/events`);
  state.events = events;
  const data = (e) => JSON.parse(e.data);
  events.addEventListener("progress", (e) => showProgress(data(e)));
  events.addEventListener("preview", (e) => {
    const { octave, image } = data(e);
    $("live-image").src = image;
    $("live-caption").textContent = `after octave ${octave}`;
  });
  for (const end of ["done", "failed", "cancelled", "removed"]) {
    events.addEventListener(end, (e) => { events.close(); finished(entry, end, data(e)); });
  }
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) $("status").textContent = "Lost contact with the server.";
  };
}

function showProgress(job) {
  const p = job.progress;
  $("progress").value = p.fraction;
  if (job.status === "queued") {
    $("status").textContent = `Queued${job.queue_position ? ` (number ${job.queue_position} in line)` : ""}…`;
  } else {
    const eta = job.timings.eta_s ? ` · about ${Math.ceil(job.timings.eta_s)} s left` : "";
    $("status").textContent = p.octaves
      ? `Dreaming: octave ${p.octave} of ${p.octaves}, step ${p.step} of ${p.steps} · ${Math.round(p.fraction * 100)}%${eta}`
      : "Dreaming: loading the network…";
  }
}

function finished(entry, status, job) {
  $("cancel").hidden = true;
  entry.status = status;
  updateHistory(entry);
  if (state.current !== entry) return;
  $("progress").hidden = status !== "done";
  if (status === "done") { showResult(entry, job); return; }
  $("status").textContent = status === "failed" ? `Failed: ${job.error}` : status === "removed" ? "This dream was removed." : "Cancelled.";
}

function showResult(entry, job) {
  $("progress").value = 1;
  $("live").hidden = true;
  $("result").hidden = false;
  const url = `/api/dreams/${entry.id}/result`;
  $("after").src = url;
  $("before").src = entry.hasInput ? `/api/dreams/${entry.id}/input` : url;
  $("compare-slider").hidden = !entry.hasInput;
  $("compare").style.setProperty("--pos", entry.hasInput ? `${$("compare-slider").value}%` : "0%");
  $("download").href = url;
  $("download").setAttribute("download", `dream-${entry.id.slice(0, 8)}.png`);
  const gain = job.score_start ? ` · objective ×${(job.score_end / job.score_start).toFixed(2)}` : "";
  const seconds = job.timings.running_s ? ` in ${job.timings.running_s.toFixed(1)} s` : "";
  $("status").textContent = `Done${seconds}.`;
  $("result-caption").textContent = `${entry.source} · ${job.config.preset || "custom"} · ${job.config.layers}${gain} · seed ${job.config.seed}`;
  $("result-params").textContent = JSON.stringify(job.config, null, 2);
}

async function cancelDream() {
  if (!state.current) return;
  try { await api(`/api/dreams/${state.current.id}`, { method: "DELETE" }); $("status").textContent = "Cancelling…"; }
  catch (error) { showError(error.message); }
}

// --- history (this browser only; ids are the only key to a dream) -----------------

function loadHistory() {
  try { return JSON.parse(localStorage.getItem(HISTORY_KEY)) || []; } catch (_) { return []; }
}

function saveHistory(entries) {
  localStorage.setItem(HISTORY_KEY, JSON.stringify(entries.slice(0, 50)));
  renderHistory();
}

function updateHistory(entry) {
  saveHistory(loadHistory().map((e) => (e.id === entry.id ? entry : e)));
}

function renderHistory() {
  const list = $("history");
  list.textContent = "";
  for (const entry of loadHistory()) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    const when = new Date(entry.created).toLocaleTimeString();
    const picture = entry.status === "done" ? `<img alt="" loading="lazy" src="/api/dreams/${entry.id}/result">` : "";
    button.innerHTML = `${picture}<span></span><br><span class="state"></span>`;
    button.querySelector("span").textContent = `${entry.source} · ${entry.params.preset || "custom"}`;
    button.querySelector(".state").textContent = `${entry.status} · ${when}`;
    button.setAttribute("aria-label", `${entry.source}, ${entry.status}, ${when}: show`);
    button.addEventListener("click", () => openEntry(entry));
    item.append(button);
    list.append(item);
  }
  $("clear-history").hidden = list.children.length === 0;
}

async function openEntry(entry) {
  try {
    const job = await (await api(`/api/dreams/${entry.id}`)).json();
    state.current = entry;
    if (job.status === "done") { $("live").hidden = true; showResult(entry, job); }
    else if (job.status === "queued" || job.status === "running") follow(entry);
    else { finished(entry, job.status, job); $("result").hidden = true; }
  } catch (error) {
    entry.status = "expired";
    updateHistory(entry);
    $("status").textContent = `That dream is gone from the server (${error.message}).`;
  }
}

// --- start -----------------------------------------------------------------------

async function init() {
  state.settings = await (await api("/api/settings")).json();
  const presets = $("presets");
  for (const name of Object.keys(state.settings.presets)) {
    const label = document.createElement("label");
    label.innerHTML = `<input type="radio" name="preset" value="${name}"${name === "classic" ? " checked" : ""}> ${name}`;
    label.querySelector("input").addEventListener("change", () => applyPreset(name));
    presets.append(label);
  }
  const limits = state.settings.limits;
  $("max_size").max = limits.max_side;
  buildControls();
  buildPictureControls();
  $("steps").max = Math.min(Number($("steps").max), limits.max_steps);
  $("noise-width").max = $("noise-height").max = limits.max_side;
  $("max_size").addEventListener("input", () => showValue("max_size"));
  showValue("max_size");
  applyPreset("classic");

  const models = await (await api("/api/models")).json();
  for (const m of models) {
    const option = new Option(m.available ? m.name : `${m.name} (weights not on this server)`, m.name, m.default, m.default);
    option.disabled = !m.available;
    $("model").add(option);
  }
  $("model").addEventListener("change", modelChanged);
  $("layers").addEventListener("change", () => layerChanged(true));
  $("pick-channel").addEventListener("click", () => {
    $("channel-picker").hidden = false;
    if (!state.shownChannels) moreChannels();
  });
  $("more-channels").addEventListener("click", moreChannels);
  $("concept-clear").addEventListener("click", () => chooseConcept(null));
  await modelChanged();

  const drop = $("drop");
  $("image").addEventListener("change", () => $("image").files.length && setFile($("image").files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) setFile(e.dataTransfer.files[0]);
  });
  for (const radio of document.querySelectorAll("input[name=start]")) radio.addEventListener("change", startChanged);
  $("dream-form").addEventListener("submit", startDream);
  $("cancel").addEventListener("click", cancelDream);
  $("compare-slider").addEventListener("input", (e) => $("compare").style.setProperty("--pos", `${e.target.value}%`));
  $("rerun").addEventListener("click", () => state.current && loadIntoForm(state.current));
  $("clear-history").addEventListener("click", () => saveHistory([]));
  renderHistory();
  document.body.dataset.ready = "true";
}

init().catch((error) => showError(`The studio could not start: ${error.message}`));
