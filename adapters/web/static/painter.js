// The mask painter. The mask canvas has the picture's own size; what is painted on it
// (opaque) is the area to change. It is sent as a PNG in OpenAI's convention: the area
// to change transparent (alpha 0), the rest opaque.
"use strict";

(() => {
  const root = document.getElementById("painter");
  if (!root) return;
  const token = root.dataset.token || "";
  const canvas = document.getElementById("mask");
  const ctx = canvas.getContext("2d");
  const picture = document.getElementById("picture");
  const size = document.getElementById("size");
  const status = document.getElementById("status");
  const form = document.getElementById("form");
  const text = document.getElementById("text");
  const send = document.getElementById("send");
  const tools = {
    brush: document.getElementById("brush"),
    eraser: document.getElementById("eraser"),
  };
  const undoButton = document.getElementById("undo");
  const PAINT = "rgb(255, 45, 85)";

  let mode = "brush";
  // Every change since the page opened, replayed after an undo.
  const ops = [];
  let stroke = null;
  let strokePointer = null;

  // --- Telegram (a Mini App): its script only when Telegram opened the page ---
  const telegramHash = new URLSearchParams(location.hash.slice(1));
  function webApp() {
    return window.Telegram && window.Telegram.WebApp ? window.Telegram.WebApp : null;
  }
  if (telegramHash.has("tgWebAppData") || telegramHash.has("tgWebAppVersion")) {
    const script = document.createElement("script");
    script.src = "https://telegram.org/js/telegram-web-app.js";
    script.async = true;
    script.onload = () => {
      const app = webApp();
      if (app) {
        app.ready();
        app.expand();
      }
    };
    // Unreachable: the page works the same; initData is in the URL's fragment too.
    script.onerror = () => {};
    document.head.appendChild(script);
  }
  function initData() {
    const app = webApp();
    if (app && app.initData) return app.initData;
    return telegramHash.get("tgWebAppData") || "";
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function say(message, kind) {
    status.textContent = message;
    status.className = kind || "";
  }

  // --- drawing ---
  function point(event) {
    const box = canvas.getBoundingClientRect();
    return [
      ((event.clientX - box.left) * canvas.width) / box.width,
      ((event.clientY - box.top) * canvas.height) / box.height,
    ];
  }

  function brushSize() {
    const box = canvas.getBoundingClientRect();
    // The slider is in screen pixels: the brush looks the same at any zoom.
    return (Number(size.value) * canvas.width) / Math.max(box.width, 1);
  }

  function paintWith(op) {
    ctx.globalCompositeOperation = op.erase ? "destination-out" : "source-over";
    ctx.strokeStyle = PAINT;
    ctx.fillStyle = PAINT;
    ctx.lineWidth = op.size;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  }

  function drawSegment(op, from) {
    ctx.save();
    paintWith(op);
    const points = op.points;
    if (points.length === 1) {
      ctx.beginPath();
      ctx.arc(points[0][0], points[0][1], op.size / 2, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.beginPath();
      ctx.moveTo(points[from][0], points[from][1]);
      for (let i = from + 1; i < points.length; i++) ctx.lineTo(points[i][0], points[i][1]);
      ctx.stroke();
    }
    ctx.restore();
  }

  function apply(op) {
    if (op.kind === "stroke") {
      drawSegment(op, 0);
    } else if (op.kind === "clear") {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
    } else if (op.kind === "invert") {
      // xor with an opaque sheet: alpha a becomes 1 - a.
      ctx.save();
      ctx.globalCompositeOperation = "xor";
      ctx.fillStyle = PAINT;
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.restore();
    }
  }

  function replay() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const op of ops) apply(op);
  }

  // One id per request the user means: a retry after a timeout or an error sends the same
  // id (the bot makes one turn of it); a new mask or a new text is a new request.
  let submission = null;
  let submittedText = "";

  function changed() {
    undoButton.disabled = ops.length === 0;
    root.dataset.ops = String(ops.length);
    submission = null;
  }

  function push(op) {
    ops.push(op);
    apply(op);
    changed();
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!event.isPrimary || event.button > 0 || stroke) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    strokePointer = event.pointerId;
    stroke = { kind: "stroke", erase: mode === "eraser", size: brushSize(), points: [point(event)] };
    ops.push(stroke);
    drawSegment(stroke, 0);
    changed();
  });

  canvas.addEventListener("pointermove", (event) => {
    if (!stroke || event.pointerId !== strokePointer) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    const from = stroke.points.length - 1;
    for (const each of events.length ? events : [event]) stroke.points.push(point(each));
    drawSegment(stroke, from);
  });

  function endStroke(event) {
    if (!stroke || event.pointerId !== strokePointer) return;
    stroke = null;
    strokePointer = null;
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  // No scrolling, zooming or long-press menu while painting with a finger.
  canvas.addEventListener("touchstart", (event) => event.preventDefault(), { passive: false });
  canvas.addEventListener("contextmenu", (event) => event.preventDefault());

  function choose(name) {
    mode = name;
    for (const [each, button] of Object.entries(tools)) button.setAttribute("aria-pressed", String(each === name));
  }
  tools.brush.addEventListener("click", () => choose("brush"));
  tools.eraser.addEventListener("click", () => choose("eraser"));
  undoButton.addEventListener("click", () => {
    ops.pop();
    replay();
    changed();
  });
  document.getElementById("invert").addEventListener("click", () => push({ kind: "invert" }));
  document.getElementById("clear").addEventListener("click", () => push({ kind: "clear" }));
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "z" && event.target !== text && ops.length) {
      event.preventDefault();
      undoButton.click();
    }
  });

  // --- the mask ---
  // The share of the picture painted: 0 nothing, 1 everything (alpha counted as painted).
  function coverage() {
    const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
    return painted / (pixels.length / 4);
  }

  function maskPng() {
    const out = document.createElement("canvas");
    out.width = canvas.width;
    out.height = canvas.height;
    const o = out.getContext("2d");
    o.fillStyle = "#000";
    o.fillRect(0, 0, out.width, out.height);
    // Painted (alpha 1) becomes transparent; the rest stays opaque.
    o.globalCompositeOperation = "destination-out";
    o.drawImage(canvas, 0, 0);
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  }
  // For tests and for anyone curious: the mask as it would be sent.
  window.redrawMask = maskPng;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const change = text.value.trim();
    if (!change) {
      say("Say what should change in the painted area.", "error");
      text.focus();
      return;
    }
    const painted = coverage();
    if (painted === 0) {
      say("Paint over the area to change first.", "error");
      return;
    }
    if (painted === 1) {
      say("The painted area covers the whole picture. Leave what should stay unpainted.", "error");
      return;
    }
    send.disabled = true;
    say("Sending…", "busy");
    const body = new FormData();
    body.append("text", change);
    if (!submission || submittedText !== change) {
      submission = newId();
      submittedText = change;
    }
    body.append("submission", submission);
    const signed = initData();
    if (signed) body.append("initData", signed);
    body.append("mask", await maskPng(), "mask.png");
    let answer;
    try {
      const response = await fetch(`paint?t=${encodeURIComponent(token)}`, { method: "POST", body, credentials: "omit" });
      answer = await response.json().catch(() => ({ error: `The bot answered ${response.status}.` }));
    } catch (error) {
      answer = { error: "The bot can't be reached. Check the connection and try again." };
    }
    send.disabled = false;
    if (answer.ok) {
      submission = null;
      say(answer.message, "ok");
      root.dataset.sent = String(Number(root.dataset.sent || "0") + 1);
      const app = webApp();
      if (app) setTimeout(() => app.close(), 1500);
    } else {
      say(answer.detail ? `${answer.error}. ${answer.detail}` : answer.error, "error");
    }
  });

  function ready() {
    // The page says the size; the picture itself has the last word.
    if (picture.naturalWidth && (picture.naturalWidth !== canvas.width || picture.naturalHeight !== canvas.height)) {
      canvas.width = picture.naturalWidth;
      canvas.height = picture.naturalHeight;
      replay();
    }
    root.dataset.ready = "1";
  }
  if (picture.complete && picture.naturalWidth) ready();
  else picture.addEventListener("load", ready);
  picture.addEventListener("error", () => say("The picture could not be loaded. Reload the page.", "error"));
  changed();
})();
