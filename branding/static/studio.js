// Studio behaviours: drag-and-drop reordering of the outline (the arrow buttons do the same without
// scripts), and confirmation before deleting. Each list with [data-sortable] posts its new order.
const csrf = () => decodeURIComponent((document.cookie.match(/(?:^|; )lms_csrf=([^;]*)/) || [])[1] || "");
const status = document.getElementById("order-status");

async function saveOrder(list) {
  const body = new URLSearchParams();
  for (const item of list.children) if (item.dataset.id) body.append("ids", item.dataset.id);
  const response = await fetch(list.dataset.orderUrl, {
    method: "POST",
    headers: { "X-CSRF-Token": csrf(), "X-Requested-With": "fetch" },
    body,
  });
  if (status) status.textContent = response.ok ? (await response.text()).replace(/<[^>]+>/g, "").trim() : "";
  // The arrow buttons' enabled state and the numbers come from the server: reload the outline quietly.
  if (response.ok) window.location.reload();
  else if (status) status.textContent = status.dataset.failed || "The order could not be saved. Reload the page and try again.";
}

for (const list of document.querySelectorAll("[data-sortable]")) {
  let dragged = null;
  list.addEventListener("dragstart", (event) => {
    const handle = event.target.closest(".drag-handle");
    const item = handle && handle.closest("li");
    if (!item || item.parentElement !== list) return;
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.dataset.id);
    event.dataTransfer.setDragImage(item, 16, 16);
    event.stopPropagation();
  });
  list.addEventListener("dragover", (event) => {
    if (!dragged) return;
    const over = event.target.closest("li");
    if (!over || over.parentElement !== list || over === dragged) return;
    event.preventDefault();
    const box = over.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    list.insertBefore(dragged, after ? over.nextSibling : over);
  });
  list.addEventListener("drop", (event) => {
    if (!dragged) return;
    event.preventDefault();
    event.stopPropagation();
  });
  list.addEventListener("dragend", () => {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    dragged = null;
    saveOrder(list);
  });
}

document.addEventListener("submit", (event) => {
  const button = event.submitter;
  if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) event.preventDefault();
});
