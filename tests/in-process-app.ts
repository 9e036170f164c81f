import type { Store } from "~/db";
import { EventRecorder } from "~/features/events";
import { KeyResolver, LastUsedTracker, PremiumUsage, RateLimiter } from "~/features/keys";
import { StoredResponses } from "~/features/responses";
import { type AppDeps, createApp } from "~/server";

/**
 * The app as start.ts composes it, in this process, over `store`: keys checked (loopback
 * listener), a recorder, responses stored; `upstream` and anything else as given.
 */
export function inProcessApp(store: Store, upstream: AppDeps["upstream"], more: Partial<AppDeps> = {}) {
  const policy = { authDisabled: false, loopbackListener: true };
  const recorder = more.recorder ?? new EventRecorder(store);
  const app = createApp({
    store,
    recorder,
    keys: {
      policy,
      resolver: new KeyResolver(store, policy),
      limiter: new RateLimiter(),
      lastUsed: new LastUsedTracker(store),
      premium: new PremiumUsage(store),
    },
    upstream,
    responses: { stored: new StoredResponses(store), storing: true },
    ...more,
  });
  return { app, recorder };
}
