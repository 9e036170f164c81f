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
