// The sign-in page's form helpers: errors next to their field (aria-invalid, aria-describedby to
// the error text), and the account named on the second-factor step.

import { $ } from "./ui.js";

const FIELDS = ["username", "password"];

/** Shows `text` under the field `id` (`#<id>-error`), marks it invalid and focuses it. */
export function fieldError(id, text, { focus = true } = {}) {
  const input = $(id);
  const error = $(`${id}-error`);
  if (!input || !error) return;
  error.textContent = text;
  error.hidden = false;
  input.setAttribute("aria-invalid", "true");
  const described = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
  if (!described.includes(error.id)) input.setAttribute("aria-describedby", [...described, error.id].join(" "));
  if (focus) input.focus();
}

/** Clears the sign-in form's field errors. */
export function clearFieldErrors() {
  for (const id of FIELDS) {
    const input = $(id);
    const error = $(`${id}-error`);
    if (error) {
      error.textContent = "";
      error.hidden = true;
    }
    if (input) {
      input.removeAttribute("aria-invalid");
      const described = (input.getAttribute("aria-describedby") || "")
        .split(/\s+/)
        .filter((d) => d && d !== `${id}-error`);
      if (described.length) input.setAttribute("aria-describedby", described.join(" "));
      else input.removeAttribute("aria-describedby");
    }
  }
}

/**
 * Checks the form before sending it: an empty field gets its error. Returns true when both are
 * filled in.
 */
export function validateSignin(username, password) {
  clearFieldErrors();
  if (!password) fieldError("password", "Enter your password.", { focus: !!username });
  if (!username) fieldError("username", "Enter your username.");
  return !!username && !!password;
}

/** "Signing in as alice" on the second-factor step, or nothing when the page does not know. */
export function signingInAs(username) {
  const line = $("second-factor-who-line");
  const who = $("second-factor-who");
  if (!line || !who) return;
  who.textContent = username || "";
  line.hidden = !username;
}
