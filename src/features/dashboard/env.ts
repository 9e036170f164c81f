import type { AppEnv } from "~/app-env";

/** A signed-in dashboard session, as the routes see it (never the session id itself). */
export interface Session {
  idHash: string;
  keyId: string;
  keyLabel: string;
  /** The token every form of this session repeats. */
  csrf: string;
}

/** The dashboard's request context: the app's, plus the session and the checked form. */
export interface DashboardEnv {
  Variables: AppEnv["Variables"] & {
    session: Session;
    /** The parsed body of a POST that passed the CSRF check. */
    form: Record<string, string | File>;
  };
}
