/**
 * An error a user can hit: it says what happened and, in `hint`, what to do.
 * The CLI prints both and exits non-zero; the server answers the OpenAI error shape.
 */
export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/**
 * An AppError about one input: `field` names it (a form field, the flag's
 * option name), so a form shows the message beside that input rather than
 * guessing it from the message's words.
 */
export class FieldError<F extends string = string> extends AppError {
  constructor(
    readonly field: F,
    message: string,
    hint?: string,
  ) {
    super(message, hint);
  }
}

/** Runs one input's parser; an AppError it throws comes out as a FieldError for `field` (same message and hint). */
export function forField<F extends string, T>(field: F, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof FieldError || !(error instanceof AppError)) throw error;
    throw new FieldError(field, error.message, error.hint);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * An error in words, with what to do when it says: `message; hint`. The one
 * wording used by the CLI, the boot log and every route's error body.
 */
export function describeError(error: unknown, joiner = "; "): string {
  const message = errorMessage(error);
  return error instanceof AppError && error.hint ? `${message}${joiner}${error.hint}` : message;
}
