/** Longest client-supplied text echoed in an error message or written to a log. */
export const ECHO_MAX = 200;

/**
 * A client-supplied string cut to a bound before it is echoed or kept: the
 * first `max` characters and how long it really was, so nobody can make the
 * gateway repeat or store megabytes.
 */
export function clip(text: string, max = ECHO_MAX): string {
  if (text.length <= max) return text;
  const high = text.charCodeAt(max - 1);
  const end = high >= 0xd800 && high <= 0xdbff ? max - 1 : max; // never split a surrogate pair
  return `${text.slice(0, end)}… (${text.length} characters)`;
}
