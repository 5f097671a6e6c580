// The studio's Live view: a camera (or a video file) sent frame by frame to /api/live, the
// dreams shown beside it with their rate and delay; snapshot (a PNG with its recipe) and record
// (a WebM of the dreams, made in the browser). The protocol: docs/live.md.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const live = { socket: null, stream: null, timer: null, sent: new Map(), sentCount: 0, pending: null,
                 shown: [], delays: [], recorder: null, chunks: [], canvas: null, recordCanvas: null,
                 generation: 0, dreamUrl: null, fileUrl: null, savedUrl: null };

  function showTab(name) {
    for (const tab of ["dream", "live"]) {
      $(`tab-${tab}`).setAttribute("aria-selected", String(tab === name));
      $(`${tab}-view`).hidden = tab !== name;
    }
  }

  function params() {
    return { preset: $("cam-preset").value, frame_steps: Number($("cam-steps").value),
             step_size: Number($("cam-step-size").value), blend: Number($("cam-blend").value),
             max_size: Number($("cam-size").value) };
  }

  function sendParams() {
    if (live.socket && live.socket.readyState === WebSocket.OPEN) live.socket.send(JSON.stringify(params()));
  }

  function showOutputs() {
    for (const input of document.querySelectorAll("#live-form input[type=range]")) {
      const out = document.querySelector(`output[for=${input.id}]`);
      if (out) out.textContent = input.value;
    }
  }

  function pump() {  // a frame of the source, at the dream's size, whenever the socket has room
    const video = $("cam-video");
    if (!live.socket || live.socket.readyState !== WebSocket.OPEN || !video.videoWidth) return;
    if (live.socket.bufferedAmount > 256 * 1024) return;  // the network is behind: wait, the server keeps the latest anyway
    const side = Number($("cam-size").value);
    const scale = Math.min(1, side / Math.max(video.videoWidth, video.videoHeight));
    const canvas = live.canvas || (live.canvas = document.createElement("canvas"));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((blob) => {
      if (!blob || !live.socket || live.socket.readyState !== WebSocket.OPEN) return;
      live.sentCount += 1;
      live.sent.set(live.sentCount, performance.now());
      if (live.sent.size > 200) live.sent.delete(live.sent.keys().next().value);
      live.socket.send(blob);
    }, "image/jpeg", 0.85);
  }

  function stats(index) {
    const now = performance.now();
    const sentAt = live.sent.get(index);
    if (sentAt !== undefined) live.delays.push(now - sentAt);
    live.shown.push(now);
    while (live.shown.length && now - live.shown[0] > 2000) live.shown.shift();
    if (live.delays.length > 30) live.delays.shift();
    const fps = live.shown.length > 1 ? (live.shown.length - 1) / ((now - live.shown[0]) / 1000) : 0;
    const delays = [...live.delays].sort((a, b) => a - b);
    const median = delays.length ? delays[Math.floor(delays.length / 2)] : 0;
    $("cam-stats").textContent = `${fps.toFixed(1)} fps · ${Math.round(median)} ms from a frame to its dream`;
    $("cam-stats").dataset.fps = fps.toFixed(2);
  }

  function onMessage(event) {
    if (typeof event.data !== "string") {  // a dream
      const img = $("cam-dream");
      if (live.dreamUrl) URL.revokeObjectURL(live.dreamUrl);  // the last one, shown or not
      live.dreamUrl = URL.createObjectURL(event.data);
      img.onload = () => {
        if (live.recordCanvas) live.recordCanvas.getContext("2d").drawImage(img, 0, 0, live.recordCanvas.width, live.recordCanvas.height);
      };
      img.src = live.dreamUrl;
      if (live.pending) stats(live.pending.dreamed);
      $("cam-snapshot").disabled = false;
      $("cam-record").disabled = false;
      return;
    }
    const message = JSON.parse(event.data);
    if (message.dreamed !== undefined) live.pending = message;
    else if (message.error) $("cam-error").textContent = message.error;
    else if (message.params) {  // taken up by the server
      $("cam-error").textContent = "";
      $("cam-stats").dataset.params = JSON.stringify(message.params);
    }
    else if (message.snapshot) {
      const link = document.createElement("a");
      link.href = message.snapshot;
      link.download = `live-${new Date().toISOString().replace(/[:.]/g, "-")}.png`;
      link.textContent = `Snapshot saved: ${link.download}`;
      $("cam-saved").replaceChildren(link);
      link.click();
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(`${scheme}${location.host}/api/live`);
    socket.binaryType = "blob";
    socket.onopen = () => { sendParams(); $("cam-status").textContent = "Dreaming live."; };
    socket.onmessage = onMessage;
    socket.onclose = (event) => {
      if (live.socket === socket) {
        $("cam-status").textContent = event.code === 1013 ? "The studio is busy with other live sessions." : "Live stopped.";
        stop();
      }
    };
    live.socket = socket;
    live.timer = setInterval(pump, 1000 / 30);
    $("cam-stop").disabled = false;
  }

  async function startCamera() {
    stop();
    const generation = live.generation;  // a later start (a second click, a file) wins
    $("cam-error").textContent = "";
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (error) {
      $("cam-error").textContent = `No camera: ${error.message}. Choose a video file instead.`;
      return;
    }
    if (generation !== live.generation) { stream.getTracks().forEach((track) => track.stop()); return; }
    live.stream = stream;
    const video = $("cam-video");
    video.srcObject = stream;
    await video.play();
    if (generation === live.generation) connect();
  }

  async function startFile(file) {
    stop();
    const generation = live.generation;
    const video = $("cam-video");
    video.srcObject = null;
    live.fileUrl = URL.createObjectURL(file);
    video.src = live.fileUrl;
    await video.play();
    if (generation === live.generation) connect();
  }

  function stop() {
    live.generation += 1;
    clearInterval(live.timer);
    live.timer = null;
    const video = $("cam-video");
    video.pause();
    if (live.fileUrl) { URL.revokeObjectURL(live.fileUrl); live.fileUrl = null; video.removeAttribute("src"); }
    $("cam-record").disabled = true;
    if (live.recorder && live.recorder.state !== "inactive") live.recorder.stop();
    const socket = live.socket;
    live.socket = null;
    if (socket) socket.close();
    if (live.stream) live.stream.getTracks().forEach((track) => track.stop());
    live.stream = null;
    live.sent.clear(); live.shown = []; live.delays = []; live.sentCount = 0;
    $("cam-stop").disabled = true;
  }

  function record() {
    if (live.recorder && live.recorder.state === "recording") { live.recorder.stop(); return; }
    const img = $("cam-dream");
    const canvas = live.recordCanvas = document.createElement("canvas");
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    live.chunks = [];
    let recorder;
    try {
      recorder = live.recorder = new MediaRecorder(canvas.captureStream(30), { mimeType: "video/webm" });
    } catch (error) {
      $("cam-error").textContent = `This browser cannot record WebM (${error.message}); snapshots still work.`;
      live.recordCanvas = null;
      return;
    }
    recorder.ondataavailable = (event) => { if (event.data.size) live.chunks.push(event.data); };
    recorder.onstop = () => {
      const link = document.createElement("a");
      if (live.savedUrl) URL.revokeObjectURL(live.savedUrl);  // the recording before this one
      live.savedUrl = link.href = URL.createObjectURL(new Blob(live.chunks, { type: "video/webm" }));
      live.chunks = [];
      link.download = "live.webm";
      link.textContent = "Recording saved: live.webm";
      $("cam-saved").replaceChildren(link);
      link.click();
      live.recordCanvas = null;
      $("cam-record").textContent = "Record";
    };
    recorder.start(1000);
    $("cam-record").textContent = "Stop recording";
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("tab-dream").addEventListener("click", () => showTab("dream"));
    $("tab-live").addEventListener("click", () => showTab("live"));
    $("dream-form").addEventListener("submit", () => { $("welcome").hidden = true; });
    $("cam-start").addEventListener("click", startCamera);
    $("cam-file").addEventListener("change", (event) => { if (event.target.files[0]) startFile(event.target.files[0]); });
    $("cam-stop").addEventListener("click", stop);
    $("cam-snapshot").addEventListener("click", () => live.socket && live.socket.send(JSON.stringify({ snapshot: true })));
    $("cam-record").addEventListener("click", record);
    for (const control of document.querySelectorAll("#live-form select, #live-form input[type=range]")) {
      control.addEventListener("input", () => { showOutputs(); sendParams(); });
    }
    showOutputs();
  });
})();
