import { type KeyRow, type KeySettingsInput, keySettingsText, LABEL_MAX } from "~/features/keys";
import { clip } from "~/lib/clip";
import { type AppError, FieldError } from "~/lib/errors";
import { EMPTY_FORM, type FormError, type KeyForm, type SettingsForm } from "../pages/keys";
import { text } from "./context";

/**
 * The settings fields of a posted form, bounded (a browser's maxlength is only a
 * suggestion): the values an error message repeats are cut first; the label is
 * checked whole (its error gives only its length) and cut by `echoed`.
 */
export function settingsForm(form: Record<string, string | File>): SettingsForm {
  return {
    label: text(form.label),
    models: clip(text(form.models), 1000),
    rateLimit: clip(text(form.rateLimit), 20),
    premiumQuota: clip(text(form.premiumQuota), 20),
    budget: clip(text(form.budget), 20),
    expires: clip(text(form.expires), 40),
  };
}

/** A refused form as it is shown again: bounded. */
export const echoed = <T extends SettingsForm>(form: T): T => ({ ...form, label: clip(form.label, LABEL_MAX) });

/** A blank field means what leaving the flag out of `keys create` means: no limit, every model, never. */
const BLANK: Omit<SettingsForm, "label"> = { models: "*", rateLimit: "none", premiumQuota: "none", budget: "none", expires: "never" };

/** Create: blank fields are left out, as flags not given to `keys create`. */
export function createInput(form: SettingsForm): KeySettingsInput {
  const input: KeySettingsInput = { label: form.label };
  for (const field of Object.keys(BLANK) as (keyof typeof BLANK)[]) if (form[field].trim() !== "") input[field] = form[field];
  return input;
}

/** Edit: only the fields that differ from the key's current settings, as flags given to `keys update`; blank means the default. */
export function changedInput(form: SettingsForm, row: KeyRow): KeySettingsInput {
  const current = keySettingsText(row);
  const input: KeySettingsInput = {};
  if (form.label !== current.label) input.label = form.label;
  for (const field of Object.keys(BLANK) as (keyof typeof BLANK)[]) {
    const value = form[field].trim() === "" ? BLANK[field] : form[field];
    if (value.trim() !== current[field]) input[field] = value;
  }
  return input;
}

/** The form field a refusal is about, from the parser's FieldError (a form field of another name, or none, marks no input). */
export function formError(error: AppError): FormError {
  const field = error instanceof FieldError && Object.hasOwn(EMPTY_FORM, error.field) ? (error.field as keyof KeyForm) : undefined;
  return { message: error.message, hint: error.hint, field };
}
