import { randomBytes } from "~/lib/random";

/**
 * Key secrets look like `cpk_<43 base62 chars of 256 random bits><6 base62 chars of CRC32>`.
 * The prefix lets secret scanners and people recognise them; the checksum lets a
 * typo or a foreign token be rejected without touching the database.
 */
const PREFIX = "cpk_";
const BODY_LENGTH = 43; // 62^43 > 2^256
const CHECK_LENGTH = 6; // 62^6 > 2^32
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SHAPE = new RegExp(`^${PREFIX}[0-9A-Za-z]{${BODY_LENGTH + CHECK_LENGTH}}$`);

function base62(value: bigint, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(value % 62n)]! + out;
    value /= 62n;
  }
  return out;
}

const checksum = (body: string) => base62(BigInt(Bun.hash.crc32(body)), CHECK_LENGTH);

export function generateSecret(): string {
  const body = base62(BigInt(`0x${randomBytes(32).toString("hex")}`), BODY_LENGTH);
  return `${PREFIX}${body}${checksum(body)}`;
}

/** Starts like one of ours: such a secret is always checked, even where no key is needed. */
export function looksLikeKey(secret: string): boolean {
  return secret.startsWith(PREFIX);
}

/** Shape and checksum only: cheap enough for every request, and no database involved. */
export function isWellFormed(secret: string): boolean {
  if (!SHAPE.test(secret)) return false;
  const body = secret.slice(PREFIX.length, PREFIX.length + BODY_LENGTH);
  return secret.slice(PREFIX.length + BODY_LENGTH) === checksum(body);
}

/** What is stored: a plain SHA-256 is enough for 256-bit random secrets (NIST SP 800-63B 5.1.2.2). */
export function hashSecret(secret: string): string {
  return new Bun.CryptoHasher("sha256").update(secret).digest("hex");
}

/** The hash a presented secret is looked up by (trimmed), or undefined when it is not one of ours in shape. */
export function presentedHash(secret: string): string | undefined {
  const trimmed = secret.trim();
  return isWellFormed(trimmed) ? hashSecret(trimmed) : undefined;
}

/** The short public id shown in lists and recorded on events. */
export function newKeyId(): string {
  return `key_${base62(BigInt(`0x${randomBytes(8).toString("hex")}`), 10)}`;
}
