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
