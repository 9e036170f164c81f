import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { cmd } from "~/lib/command-name";
import { assetUrl } from "../assets";
import type { Session } from "../env";

export type Section = "usage" | "keys" | "events" | "audit";

/** Hidden field every state-changing form carries. */
export const Csrf = ({ session }: { session: Session }) => <input type="hidden" name="csrf" value={session.csrf} />;

const NAV: [Section, string, string][] = [
  ["usage", "Usage", "/dashboard"],
  ["keys", "Keys", "/dashboard/keys"],
  ["events", "Events", "/dashboard/events"],
  ["audit", "Audit", "/dashboard/audit"],
];

/** Every page: no inline script or style (the CSP forbids both), scripts from /dashboard/assets only. */
export function Layout(props: { title: string; session?: Session; section?: Section; charts?: boolean; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{`${props.title} · copilot-api`}</title>
        <link rel="icon" href={assetUrl("icon.svg")} type="image/svg+xml" />
        {props.charts ? <link rel="stylesheet" href={assetUrl("uplot.css")} /> : null}
        <link rel="stylesheet" href={assetUrl("dashboard.css")} />
        {props.charts ? <script src={assetUrl("uplot.js")} defer /> : null}
        <script src={assetUrl("dashboard.js")} defer />
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/dashboard">
            copilot-api
          </a>
          {props.session ? (
            <>
              <nav class="tabs">
                {NAV.map(([section, label, href]) => (
                  <a href={href} aria-current={props.section === section ? "page" : undefined}>
                    {label}
                  </a>
                ))}
              </nav>
              <form class="signout" method="post" action="/dashboard/logout">
                <Csrf session={props.session} />
                <span class="who" title="the admin key you signed in with">
                  {props.session.keyLabel || props.session.keyId}
                </span>
                <button type="submit" class="link">
                  Sign out
                </button>
              </form>
            </>
          ) : null}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

/** Renders a page with its doctype. */
export async function render(c: Context, node: Child, status: ContentfulStatusCode = 200): Promise<Response> {
  return c.html(`<!DOCTYPE html>${await String(node)}`, status);
}

export interface Refusal {
  title: string;
  message: string;
  remedy: string;
}

/** What a person can run into, each with what to do about it. */
export const REFUSALS = {
  csrf: {
    title: "Request refused",
    message: "This form did not carry this session's security token (CSRF): it is stale, or it was sent from another site.",
    remedy: "Go back, reload the page and submit it again.",
  },
  wrongKey: {
    title: "Not a valid key",
    message: "That is not an active copilot-api key of this server (mistyped, revoked, expired or from another installation).",
    remedy: `Paste an admin key, or create one on the server with \`${cmd("keys create --tier admin")}\`.`,
  },
  clientKey: {
    title: "Client keys cannot sign in",
    message: "That key is a client key: it may call the API, but the dashboard needs an admin key.",
    remedy: `Sign in with an admin key, or create one on the server with \`${cmd("keys create --tier admin")}\`.`,
  },
  rateLimited: {
    title: "Too many sign-in attempts",
    message: "This address tried to sign in too often in the last minute.",
    remedy: "Wait a minute, then try again with an admin key.",
  },
  notFound: {
    title: "No such page",
    message: "The dashboard has no page at this address.",
    remedy: "Start from the usage page.",
  },
} satisfies Record<string, Refusal>;

/** A page saying what happened and what to do, with the given status. */
export function refusal(c: Context, status: ContentfulStatusCode, refusal: Refusal, back = "/dashboard"): Promise<Response> {
  return render(
    c,
    <Layout title={refusal.title}>
      <section class="panel narrow refusal" data-refusal>
        <h1>{refusal.title}</h1>
        <p>{refusal.message}</p>
        <p class="remedy">{refusal.remedy}</p>
        <p>
          <a href={back}>Back</a>
        </p>
      </section>
    </Layout>,
    status,
  );
}
