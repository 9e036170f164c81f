import type { Context } from "hono";
import { osUser } from "~/db";
import { clip } from "~/lib/clip";
import { requestAddress } from "~/lib/net";
import type { AuditEntry } from "./queries";

/** Who did an admin action, from where. */
export type AuditActor = Pick<AuditEntry, "actorKind" | "actor" | "address" | "userAgent">;
type Actor = AuditActor;

/** The CLI acts as the OS user who ran it (no key is involved on this machine). */
export function cliActor(): Actor {
  return { actorKind: "cli", actor: osUser() };
}

/** The retention job, acting on the gateway's own schedule. */
export const GATEWAY_ACTOR: Actor = { actorKind: "gateway", actor: "gateway" };

/** An HTTP actor: a dashboard session's key, an admin key, or (failed sign-in) whoever it was; address and User-Agent bounded. */
export function httpActor(c: Context, actorKind: "session" | "key", actor: string): Actor {
  const agent = c.req.header("user-agent");
  return { actorKind, actor: clip(actor, 64), address: requestAddress(c) ?? null, userAgent: agent === undefined ? null : clip(agent, 200) };
}
