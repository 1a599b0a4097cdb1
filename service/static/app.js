// Small progressive enhancements; every page works without this file.
"use strict";

// After a failed submit, put the keyboard focus on the first field with an error.
document.addEventListener("DOMContentLoaded", () => {
  const invalid = document.querySelector("[aria-invalid='true']");
  if (invalid) invalid.focus();
});

// --- drafting ---

// On a form with an error summary, start at the summary: it links to each field.
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector(".drafting-errors");
  if (summary) summary.focus();
});

// Lists in the agreement form. "Lägg till" copies the list's <template> row and "Ta bort"
// removes a row, without reloading; then the rows are renumbered so names, ids and labels
// stay list-0, list-1, ... as the server reads them. Without script the same buttons submit.
const ROW_ATTRIBUTES = ["name", "id", "for", "aria-describedby"];

function renumberRows(container) {
  const list = container.dataset.rows;
  const index = new RegExp(`(^|\\s)${list}-(\\d+|__i__)(?=-|\\s|$)`, "g");
  container.querySelectorAll(":scope > [data-row]").forEach((row, i) => {
    for (const element of [row, ...row.querySelectorAll("*")]) {
      for (const attribute of ROW_ATTRIBUTES) {
        const value = element.getAttribute(attribute);
        if (value) element.setAttribute(attribute, value.replace(index, `$1${list}-${i}`));
      }
      if (element.matches("[data-remove-row]")) element.value = `remove:${list}:${i}`;
      if (element.matches("[data-row-number]")) element.textContent = String(i + 1);
    }
  });
}

function addRow(button) {
  const list = button.dataset.addRow;
  const container = document.querySelector(`[data-rows="${list}"]`);
  const template = document.querySelector(`template[data-row-template="${list}"]`);
  container.append(template.content.cloneNode(true));
  renumberRows(container);
  const rows = container.querySelectorAll(":scope > [data-row]");
  rows[rows.length - 1].querySelector("input, select, textarea").focus();
}

function removeRow(button) {
  const row = button.closest("[data-row]");
  const container = row.parentElement;
  row.remove();
  renumberRows(container);
  document.querySelector(`[data-add-row="${container.dataset.rows}"]`).focus();
}

document.addEventListener("click", (event) => {
  const add = event.target.closest("[data-add-row]");
  const remove = event.target.closest("[data-remove-row]");
  if (add) {
    event.preventDefault();
    addRow(add);
  } else if (remove) {
    event.preventDefault();
    removeRow(remove);
  }
});

// Signing links are shown once: "Kopiera" copies one; without script the field can be selected.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-copy]")) button.hidden = false;
});

document.addEventListener("focusin", (event) => {
  if (event.target.matches("[data-select-all]")) event.target.select();
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const status = document.querySelector("[data-copy-status]");
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    status.textContent = `${button.textContent.trim().replace(/^Kopiera\s*/, "Kopierade ")}.`;
  } catch {
    status.textContent = "Kunde inte kopiera. Länken är markerad: tryck Ctrl+C för att kopiera den.";
  }
});
