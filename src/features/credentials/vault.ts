import { dirname } from "node:path";
import type { AppDatabase, Store } from "~/db";
import type { CredentialKind } from "~/db/schema";
import { AppError } from "~/lib/errors";
import { SecretBox, secretKeyPath } from "~/lib/secret-box";
import { type CredentialRow, credentialByLabel, insertCredential, type NewCredential, newCredentialId, replaceCredential } from "./queries";

/** What adding a credential is given: its label and kind, its token, and what GitHub said about its account. */
export interface CredentialSpec {
  label: string;
  kind: CredentialKind;
  token: string;
  githubLogin: string | null;
  plan: string | null;
}

/** Labels name credentials on the command line, in flags and in errors: short and plain. */
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;

export function checkLabel(label: string | undefined, flag = "--label"): string {
  if (!label || !LABEL.test(label)) {
    throw new AppError(`${flag} must be 1-40 letters, digits, dots, dashes or underscores, starting with a letter or digit`, `e.g. ${flag} alice`);
  }
  return label;
}

/**
 * The credentials' secrets for one store: sealed with the key file beside the
 * database (see lib/secret-box.ts), opened only when a seat is first used.
 */
export class CredentialVault {
  readonly box: SecretBox;

  constructor(store: Pick<Store, "path">) {
    this.box = new SecretBox(secretKeyPath(store.path));
  }

  /** The key file's folder: where it must be backed up, apart from the database. */
  get folder(): string {
    return dirname(this.box.keyPath);
  }

  /** Seals and stores the token under the label; an existing label gets the new token. */
  add(db: AppDatabase, spec: CredentialSpec): CredentialRow {
    // Adding a label again replaces its token (a revoked or lost one, a new key file): its keys stay bound.
    const existing = credentialByLabel(db, spec.label);
    const row = this.sealed(existing?.id ?? newCredentialId(), spec);
    return existing ? replaceCredential(db, row) : insertCredential(db, row);
  }

  /** The row to store: the token sealed, bound to the credential's id (a sealed token moved to another row does not open). */
  sealed(id: string, spec: CredentialSpec): NewCredential {
    return { id, label: spec.label, kind: spec.kind, githubLogin: spec.githubLogin, plan: spec.plan, tokenSealed: this.box.seal(spec.token, id) };
  }

  /** The GitHub token, or an AppError naming the key file and what to do. */
  token(row: CredentialRow): string {
    try {
      return this.box.open(row.tokenSealed, row.id);
    } catch (error) {
      if (error instanceof AppError) throw new AppError(`credential ${row.label}: ${error.message}`, error.hint);
      throw error;
    }
  }
}
