import { cmd } from "~/lib/command-name";
import { AppError } from "~/lib/errors";
import { log } from "~/lib/log";
import type { KeyCounts } from "./queries";

/**
 * Who may call the API, in one place: the resolver applies it per request, the
 * guards screen what it lets through without a key, and the boot says it.
 */
export interface KeyPolicy {
  /** --no-auth: nothing is checked; every request passes as __noauth__, even one that presents a key. */
  authDisabled: boolean;
  /**
   * The listener is a loopback address. Then, while the keys table has never
   * held a row (revoked ones count), requests without a key pass as __noauth__.
   * Once a key was ever created, revoking every key closes the server instead of opening it.
   */
  loopbackListener: boolean;
}

/** A request that presents no key passes (as __noauth__) in this state of the store. */
export function passesWithoutKey(policy: KeyPolicy, keys: KeyCounts): boolean {
  return policy.authDisabled || (policy.loopbackListener && keys.total === 0);
}

/**
 * Says at startup which case applies, the way the resolver will apply it;
 * refuses to expose a server without an active key to the network.
 */
export function announcePolicy(policy: KeyPolicy, host: string, keys: KeyCounts): void {
  if (policy.authDisabled) {
    log.warn(
      `SECURITY: --no-auth: API keys are not checked (a key sent is ignored; requests are recorded as __noauth__); anyone who can reach this port can use your Copilot quota${
        policy.loopbackListener
          ? ". Requests must name localhost, 127.0.0.1 or [::1] in Host, and cross-site web pages are refused"
          : ". Web pages from other sites are refused"
      }`,
    );
    return;
  }
  if (keys.active > 0) {
    log.info(`${keys.active} active API key(s): every request needs one`);
    return;
  }
  if (!policy.loopbackListener) {
    throw new AppError(
      `refusing to listen on ${host} with no active API key${keys.total > 0 ? ` (all ${keys.total} revoked)` : ""}: anyone on the network could use your Copilot quota`,
      `create a key with \`${cmd("keys create")}\`, listen on 127.0.0.1, or pass --no-auth if this network is trusted`,
    );
  }
  if (keys.total > 0) {
    log.warn(`no active API key (all ${keys.total} revoked): every request is refused with 401 until you create one with \`${cmd("keys create")}\``);
    return;
  }
  log.warn(
    `no API key yet: requests from this machine pass without one (as __noauth__), if addressed to localhost and not from another site's web page; once you create a key with \`${cmd("keys create")}\`, every request needs one`,
  );
}
