// Small browser behaviours of the design system; pages work without them.
const csrf = () => (document.cookie.match(/(?:^|; )lms_csrf=([^;]*)/) || [])[1] || "";

// htmx requests carry the CSRF token like forms do.
document.addEventListener("htmx:configRequest", (event) => {
  event.detail.headers["X-CSRF-Token"] = decodeURIComponent(csrf());
});

document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-dismiss], [data-open-dialog], [data-close-dialog]");
  if (!target) return;
  if (target.hasAttribute("data-dismiss")) target.parentElement.remove();
  if (target.dataset.openDialog) document.getElementById(target.dataset.openDialog).showModal();
  if (target.dataset.closeDialog) document.getElementById(target.dataset.closeDialog).close();
});

// Move focus to an error summary so screen readers announce it.
const summary = document.querySelector("[data-autofocus]");
if (summary) summary.focus();
