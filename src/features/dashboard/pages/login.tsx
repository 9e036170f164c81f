import { cmd } from "~/lib/command-name";
import { Layout } from "./layout";

/** The sign-in page: an admin key, pasted once, for a session cookie. */
export function LoginPage(props: { token: string; notice?: string }) {
  return (
    <Layout title="Sign in">
      <section class="panel narrow">
        <h1>Sign in</h1>
        <p>
          Paste an admin key of this server. It is checked once and not kept by the browser: the server answers with a session cookie that lasts 8 hours past
          its last use.
        </p>
        {props.notice ? <p class="notice">{props.notice}</p> : null}
        <form method="post" action="/dashboard/login" class="stack">
          <input type="hidden" name="csrf" value={props.token} />
          <label>
            Admin key
            <input type="password" name="key" autocomplete="off" spellcheck={false} required maxlength={200} placeholder="cpk_…" />
          </label>
          <button type="submit" class="primary">
            Sign in
          </button>
        </form>
        <p class="hint">
          No admin key yet? On the server: <code>{cmd("keys create --tier admin")}</code>
        </p>
      </section>
    </Layout>
  );
}
