/** The dashboard's public face: its routes under /dashboard, and the CSV export for admin keys under /admin. */
export { dashboardRoutes, eventsCsvRoute } from "./routes";
