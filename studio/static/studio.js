// The studio's behaviour on top of plain server-rendered pages (every page works without it):
// the scrubber, live run and render status, and the code editor when its bundle is there.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);

  // ---- the scrubber: one still request in flight, the latest position wins
  const scrubber = $("scrubber"), still = $("still");
  if (scrubber && still) {
    let busy = false, wanted = null, lastUrl = null;
    const show = () => {
      if (busy || wanted === null) return;
      const at = wanted; wanted = null; busy = true;
      const url = still.dataset.base + "&at=" + at.toFixed(3);
      const t0 = performance.now();
      fetch(url, {credentials: "same-origin"}).then((r) => {
        if (!r.ok) return r.text().then((t) => { throw new Error(t); });
        $("scene-id").textContent = r.headers.get("X-Scene") || "";
        return r.blob();
      }).then((blob) => {
        if (lastUrl) URL.revokeObjectURL(lastUrl);
        lastUrl = URL.createObjectURL(blob);
        still.src = lastUrl;
        still.dataset.at = at.toFixed(3);
        $("still-ms").textContent = "(" + Math.round(performance.now() - t0) + " ms)";
      }).catch(() => { $("still-ms").textContent = "(no still)"; })
        .finally(() => { busy = false; show(); });
    };
    const fps = parseFloat(scrubber.dataset.fps);  // the scrubber counts frames: each still is one frame of the video
    const move = () => {
      wanted = parseInt(scrubber.value, 10) / fps;
      $("scrub-time").textContent = wanted.toFixed(2) + " s";
      scrubber.setAttribute("aria-valuetext", wanted.toFixed(2) + " seconds");
      show();
    };
    scrubber.addEventListener("input", move);
    document.querySelectorAll("button.jump").forEach((b) => b.addEventListener("click", () => {
      scrubber.value = Math.round(parseFloat(b.dataset.at) * fps); move(); scrubber.focus();
    }));
    move();
  }

  // ---- polling a JSON twin while something runs
  const poll = (url, every, each) => {
    const tick = () => fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then((r) => r.json()).then((data) => { if (each(data)) setTimeout(tick, every); })
      .catch(() => setTimeout(tick, every * 3));
    tick();
  };
  const fmt = (s) => s == null ? "" : s < 90 ? Math.round(s) + " s" : Math.round(s / 60) + " min";

  const job = $("render-job");
  if (job) {
    const bar = $("render-progress");
    poll(job.dataset.status, 500, (d) => {
      const p = d.progress;
      $("render-state").textContent = d.state + " · " + p.percent + " % · " + fmt(d.seconds);
      if (p.percent > 0 || d.state !== "rendering") bar.value = p.percent;  // no value yet: an indeterminate bar
      bar.textContent = p.percent + " %";
      $("render-percent").textContent = p.percent + " %";
      $("render-phase").textContent = p.says;
      const list = $("render-renditions"); list.textContent = "";
      p.renditions.forEach((r) => {
        const li = document.createElement("li"); li.dataset.rendition = r.name;
        li.textContent = r.name + ": " + r.frames + " of " + (r.of == null ? "?" : r.of) + " frames"; list.append(li);
      });
      if (d.state === "rendering") return true;
      if (d.state === "failed") { const e = $("render-error"); e.textContent = d.error; e.hidden = false; return false; }
      const box = $("videos");
      Object.entries(d.videos).forEach(([name, src]) => {
        const h = document.createElement("h3"); h.textContent = name;
        const v = document.createElement("video"); v.controls = true; v.src = src; v.preload = "metadata"; v.dataset.rendition = name;
        box.append(h, v);
      });
      $("microsite").src = d.page;
      $("render-result").hidden = false;
      return false;
    });
  }

  const live = $("run-live");
  if (live) {
    poll(live.dataset.status, 1000, (d) => {
      $("run-state").textContent = d.state;
      $("run-done").textContent = d.done;
      $("run-total").textContent = d.total == null ? "?" : d.total;
      ["ok", "skipped", "failed", "invalid"].forEach((k) => { $("run-" + k).textContent = d.counts[k] || 0; });
      const bar = $("run-progress"); bar.max = d.total || Math.max(d.done, 1); bar.value = d.done;
      $("run-rate").textContent = d.rate ? (d.rate * 60).toFixed(1) + " customers/min" : "";
      $("run-eta").textContent = d.eta != null ? "· about " + fmt(d.eta) + " left" : "";
      const list = $("run-failures"); list.textContent = "";
      d.failures.forEach(([row, reason]) => { const li = document.createElement("li"); li.textContent = "row " + row + ": " + reason; list.append(li); });
      $("run-log").textContent = d.log_tail;
      $("run-reason").textContent = d.reason || ""; $("run-why").hidden = !d.reason;
      if (d.state !== "running") { const c = $("cancel"); if (c) c.disabled = true; }
      return d.state === "running";
    });
  }

  // ---- the editor: CodeMirror when studio/static/vendor/editor.js was built (make studio-assets), else the textarea
  const area = $("content");
  if (area) {
    const findings = JSON.parse(area.dataset.findings || "[]");
    const start = () => {
      if (window.TailorcastEditor) {
        window.TailorcastEditor.mount(area, {file: area.dataset.file, findings, readOnly: area.readOnly});
      } else {
        document.querySelectorAll("#line-problems li").forEach((li) => li.addEventListener("click", () => {
          const n = parseInt(li.dataset.line, 10) || 1, lines = area.value.split("\n");
          const from = lines.slice(0, n - 1).join("\n").length + (n > 1 ? 1 : 0);
          area.focus(); area.setSelectionRange(from, from + (lines[n - 1] || "").length);
        }));
      }
    };
    if (document.readyState === "complete") start(); else window.addEventListener("load", start);
  }
})();
