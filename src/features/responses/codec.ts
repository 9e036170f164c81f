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
  const bytes = encoder.encode(JSON.stringify(value));
  if (bytes.length < COMPRESS_FROM_BYTES) return { encoding: "json", body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length) };
  return { encoding: "zstd", body: Buffer.from(Bun.zstdCompressSync(bytes, { level: ZSTD_LEVEL })) };
}

export function decodeBody(encoding: ResponseEncoding, body: Uint8Array): unknown {
  const bytes = encoding === "zstd" ? Bun.zstdDecompressSync(body) : body;
  return JSON.parse(decoder.decode(bytes));
}
