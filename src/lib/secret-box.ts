import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { cmd } from "~/lib/command-name";
import { AppError } from "./errors";
import { FILE_MODE, FOLDER_MODE, tightenLoudly } from "./file-modes";
import { randomBytes } from "./random";

// node:crypto (AES-GCM) is required on the first seal or open, not imported: a boot that never touches a
// sealed secret does not pay for loading it (about 15 ms here).
const cipherKit = () => require("node:crypto") as typeof import("node:crypto");

/** The key file's name, beside the database: never inside it, so a backup or a replica carries only ciphertext. */
export const SECRET_KEY_FILE = "credentials.key";

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** The first byte of every ciphertext: a later format (another cipher, a rotated key) gets another. */
const FORMAT_V1 = 1;

/** Where the key for the database at `dbPath` lives. */
export const secretKeyPath = (dbPath: string) => join(dirname(dbPath), SECRET_KEY_FILE);

const REMEDY = `add the credentials again (\`${cmd("auth --label LABEL")}\` or \`${cmd("credentials add --label LABEL --token-file PATH")}\`): that seals their tokens anew and their keys stay bound`;

/**
 * Seals secrets with AES-256-GCM under a 32-byte key kept in a file (0600, its
 * folder 0700). Each ciphertext is `version ‖ iv ‖ tag ‖ data`, bound to `aad`
 * (the credential's id), so a sealed token moved to another row does not open.
 * The key file is read on first use and created on first seal, never before.
 */
export class SecretBox {
  private key?: Buffer;

  constructor(readonly keyPath: string) {}

  seal(plaintext: string, aad: string): Buffer {
    const key = this.loadKey(true);
    const iv = randomBytes(IV_BYTES);
    const cipher = cipherKit().createCipheriv("aes-256-gcm", key, iv).setAAD(Buffer.from(aad));
    const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return Buffer.concat([Buffer.from([FORMAT_V1]), iv, cipher.getAuthTag(), data]);
  }

  /** The secret, or an AppError naming the key file when it is missing or not the one that sealed it. */
  open(sealed: Uint8Array, aad: string): string {
    const key = this.loadKey(false);
    const bytes = Buffer.from(sealed);
    if (bytes[0] !== FORMAT_V1 || bytes.length < 1 + IV_BYTES + TAG_BYTES) {
      throw new AppError(`a stored credential is in an unknown format (version ${bytes[0]})`, `a newer copilot-api may have written it; upgrade, or ${REMEDY}`);
    }
    const iv = bytes.subarray(1, 1 + IV_BYTES);
    const tag = bytes.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    try {
      const decipher = cipherKit().createDecipheriv("aes-256-gcm", key, iv).setAAD(Buffer.from(aad)).setAuthTag(tag);
      return Buffer.concat([decipher.update(bytes.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new AppError(
        `the key file ${this.keyPath} does not open the stored credentials: it is not the key they were sealed with`,
        `put the right key file back, or ${REMEDY}`,
      );
    }
  }

  private loadKey(create: boolean): Buffer {
    if (this.key) return this.key;
    if (!existsSync(this.keyPath)) {
      if (!create)
        throw new AppError(
          `the key file ${this.keyPath} that opens the stored credentials is missing`,
          `put it back (from where you keep it safe), or ${REMEDY}`,
        );
      this.key = writeNewKey(this.keyPath);
      return this.key;
    }
    tightenLoudly(this.keyPath, FILE_MODE);
    const key = readFileSync(this.keyPath);
    if (key.length !== KEY_BYTES)
      throw new AppError(`the key file ${this.keyPath} is not a ${KEY_BYTES}-byte key (${key.length} bytes)`, `put the right key file back, or ${REMEDY}`);
    this.key = key;
    return key;
  }
}

/** A fresh key, written 0600 under a temporary name and linked into place: two processes racing keep one key. */
function writeNewKey(path: string): Buffer {
  mkdirSync(dirname(path), { recursive: true, mode: FOLDER_MODE });
  tightenLoudly(dirname(path), FOLDER_MODE);
  const key = randomBytes(KEY_BYTES);
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, "wx", FILE_MODE);
  try {
    writeSync(fd, key);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
  } catch (error) {
    // Someone else made it first: theirs is the key.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    rmSync(temp, { force: true });
    return readFileSync(path);
  }
  rmSync(temp, { force: true });
  return key;
}
