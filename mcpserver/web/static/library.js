// Progressive enhancement only: every page works without this file.
// Forms marked data-confirm ask before they submit (removing members, ending invitations).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
