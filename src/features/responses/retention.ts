import type { RetentionTarget } from "~/features/events";
import { deleteOldResponses } from "./queries";

/** Stored responses for the retention job (--responses-retention-days): deleted by age, oldest first. */
export const responsesRetention: RetentionTarget = { what: "stored responses", deleteBatch: deleteOldResponses };
