// Small progressive enhancements; every page works without this file.
"use strict";

// After a failed submit, put the keyboard focus on the first field with an error.
document.addEventListener("DOMContentLoaded", () => {
  const invalid = document.querySelector("[aria-invalid='true']");
  if (invalid) invalid.focus();
});
