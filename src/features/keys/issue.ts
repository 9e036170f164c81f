import type { AppDatabase } from "~/db";
import { insertKey, type KeyRow, type NewKey } from "./queries";
import { generateSecret, hashSecret, newKeyId } from "./secret";

/**
 * Creates a key and hands back its secret, the only time it exists outside the
 * client: the store keeps its SHA-256. `keys create` and `claude-code --create-key` both call this.
 */
export function issueKey(db: AppDatabase, key: Omit<NewKey, "id" | "hash">): { row: KeyRow; secret: string } {
  const secret = generateSecret();
  return { row: insertKey(db, { ...key, id: newKeyId(), hash: hashSecret(secret) }), secret };
}
