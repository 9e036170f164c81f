import type { ResponseEncoding } from "~/db/schema";

/**
 * How a stored response's body is kept: JSON text, or zstd-compressed JSON once it is
 * large enough for compression to pay (images in the input, long conversations).
 * Measured in bench/responses.ts: zstd level 3 shrinks a conversation's JSON about 20x and
 * a base64 image by a quarter (what base64 added), as gzip does, in a half to an eighth of
 * gzip's time.
 */

/** Bodies at least this long (UTF-8 bytes) are compressed. */
export const COMPRESS_FROM_BYTES = 2048;
const ZSTD_LEVEL = 3;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeBody(value: unknown): { encoding: ResponseEncoding; body: Buffer } {
  return encodeJson(jsonOf(value));
}

/** A body's JSON as UTF-8 bytes: its size is known before anything is compressed. */
export const jsonOf = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

export function encodeJson(bytes: Uint8Array): { encoding: ResponseEncoding; body: Buffer } {
  if (bytes.length < COMPRESS_FROM_BYTES) return { encoding: "json", body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length) };
  return { encoding: "zstd", body: Buffer.from(Bun.zstdCompressSync(bytes, { level: ZSTD_LEVEL })) };
}

export function decodeBody(encoding: ResponseEncoding, body: Uint8Array): unknown {
  return decodeSized(encoding, body).value;
}

/** The body and how many bytes its JSON takes (what expanding a chain adds to the request). */
export function decodeSized(encoding: ResponseEncoding, body: Uint8Array): { value: unknown; bytes: number } {
  const bytes = encoding === "zstd" ? Bun.zstdDecompressSync(body) : body;
  return { value: JSON.parse(decoder.decode(bytes)), bytes: bytes.length };
}
