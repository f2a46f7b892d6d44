// Resumable video upload for the studio's video lesson editor, on the media API's parts protocol:
// create an upload (POST /api/v1/media/uploads), send each missing part (PUT to its URL), complete.
// The upload's id is kept in localStorage under the lesson, so after a dropped connection or a closed
// tab, choosing the same file again sends only the parts the server does not have yet.
const box = document.querySelector("[data-uploader]");
const csrf = () => decodeURIComponent((document.cookie.match(/(?:^|; )lms_csrf=([^;]*)/) || [])[1] || "");

if (box) {
  const input = box.querySelector("input[type=file]");
  const bar = box.querySelector("[data-progress]");
  const statusLine = box.querySelector("[data-upload-status]");
  const resume = box.querySelector("[data-resume]");
  const startButton = box.querySelector("[data-start]");
  const cancelButton = box.querySelector("[data-cancel]");
  const pendingKey = `lms-upload:${box.dataset.lesson}`;
  const text = (name, values = {}) =>
    (box.dataset[name] || "").replace(/%\((\w+)\)s/g, (_, key) => values[key] ?? "");
  const percent = (value) => new Intl.NumberFormat(document.documentElement.lang, { style: "percent" }).format(value);
  const fileKey = (file) => `${file.name}:${file.size}:${file.lastModified}`;
  let controller = null;

  const pending = () => JSON.parse(localStorage.getItem(pendingKey) || "null");
  const remember = (state) => localStorage.setItem(pendingKey, JSON.stringify(state));
  const say = (message) => { statusLine.textContent = message; };

  const showResume = () => {
    const state = pending();
    resume.hidden = !state;
    if (state) resume.textContent = text("textResume", { name: state.name, percent: percent(state.fraction || 0) });
  };

  const api = async (method, url, body) => {
    const headers = { "X-CSRF-Token": csrf(), Accept: "application/json" };
    if (body) headers["Content-Type"] = "application/json";
    return fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined, signal: controller?.signal });
  };

  const errorOf = async (response) => {
    try {
      const { error } = await response.json();
      return error.localised_message || error.message;
    } catch { return response.statusText; }
  };

  async function sendPart(file, upload, part) {
    const offset = (part.number - 1) * upload.part_size;
    const blob = file.slice(offset, offset + part.size);
    // Only the platform's own part endpoint needs the CSRF header; presigned storage URLs must not get it.
    const sameSite = part.url.startsWith("/");
    for (let attempt = 0; ; attempt += 1) {
      try {
        const response = await fetch(part.url, {
          method: part.method || "PUT",
          body: blob,
          headers: sameSite ? { "X-CSRF-Token": csrf() } : {},
          credentials: sameSite ? "same-origin" : "omit",
          signal: controller.signal,
        });
        if (response.ok) return;
        if (response.status < 500 && response.status !== 429) throw new Error(await errorOf(response));
      } catch (error) {
        if (controller.signal.aborted || attempt >= 4 || !(error instanceof TypeError)) throw error;
      }
      say(text("textRetrying"));
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
    }
  }

  async function start() {
    const file = input.files[0];
    if (!file) { say(text("textChoose")); input.focus(); return; }
    controller = new AbortController();
    startButton.disabled = true;
    cancelButton.hidden = false;
    bar.hidden = false;
    try {
      let upload = null;
      const state = pending();
      if (state && state.file === fileKey(file)) {
        const response = await api("GET", `/api/v1/media/uploads/${state.id}`);
        if (response.ok) upload = await response.json();
        if (upload && upload.status !== "open") upload = null;
      }
      if (!upload) {
        const response = await api("POST", "/api/v1/media/uploads", {
          title: box.dataset.title || file.name,
          filename: file.name,
          size_bytes: file.size,
          content_type: file.type || "application/octet-stream",
          part_size: Number(box.dataset.partSize) || 8 * 1024 * 1024,
        });
        if (!response.ok) throw new Error(await errorOf(response));
        upload = await response.json();
        remember({ id: upload.id, file: fileKey(file), name: file.name, fraction: 0 });
        // The lesson names its video from now on (the publish check sees it uploading).
        const attach = await fetch(box.dataset.attachUrl, {
          method: "POST",
          headers: { "X-CSRF-Token": csrf(), "X-Requested-With": "fetch" },
          body: new URLSearchParams({ asset_id: upload.asset_id }),
        });
        if (!attach.ok) throw new Error(await errorOf(attach));
      }
      let sent = upload.bytes_received;
      const show = () => {
        bar.value = Math.round((100 * sent) / upload.total_bytes);
        say(text("textUploading", { percent: percent(sent / upload.total_bytes) }));
        remember({ ...pending(), fraction: sent / upload.total_bytes });
      };
      show();
      for (const part of upload.missing_parts) {
        await sendPart(file, upload, part);
        sent += part.size;
        show();
      }
      say(text("textFinishing"));
      const done = await api("POST", `/api/v1/media/uploads/${upload.id}/complete`);
      if (!done.ok) throw new Error(await errorOf(done));
      localStorage.removeItem(pendingKey);
      window.location.reload();
    } catch (error) {
      if (!controller.signal.aborted) say(`${text("textFailed")} ${error.message || ""}`.trim());
      startButton.disabled = false;
      showResume();
    }
  }

  async function cancel() {
    const state = pending();
    controller?.abort();
    controller = null;
    if (state) await api("DELETE", `/api/v1/media/uploads/${state.id}`);
    localStorage.removeItem(pendingKey);
    bar.hidden = true;
    bar.value = 0;
    cancelButton.hidden = true;
    startButton.disabled = false;
    resume.hidden = true;
    say(text("textCancelled"));
  }

  startButton.addEventListener("click", start);
  cancelButton.addEventListener("click", cancel);
  showResume();
  if (pending()) cancelButton.hidden = false;
}
