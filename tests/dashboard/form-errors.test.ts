import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createKey } from "~/features/keys";
import { cleanUpAfterFile } from "../helpers";
import { type DashboardServer, postForm, type Signed, signIn, startDashboard } from "./harness";

cleanUpAfterFile();

/** What a page marks as invalid: each such input's name and the text of the element its aria-describedby names. */
async function invalidInputs(html: string): Promise<{ name: string; describedBy: string | null; says: string | undefined }[]> {
  const marked: { name: string; describedBy: string | null }[] = [];
  const texts = new Map<string, string>();
  let open: string | undefined;
  await new HTMLRewriter()
    .on("input[aria-invalid], select[aria-invalid]", {
      element(el) {
        marked.push({ name: el.getAttribute("name") ?? "", describedBy: el.getAttribute("aria-describedby") });
      },
    })
    .on("[id]", {
      element(el) {
        if (!el.canHaveContent) return; // an <input id> holds no text
        const id = el.getAttribute("id")!;
        open = id;
        texts.set(id, "");
        el.onEndTag(() => {
          open = undefined;
        });
      },
      text(chunk) {
        if (open) texts.set(open, texts.get(open)! + chunk.text);
      },
    })
    .transform(new Response(html))
    .text();
  return marked.map((m) => ({ ...m, says: m.describedBy ? texts.get(m.describedBy) : undefined }));
}

describe("dashboard: a refused key form marks the input its error is about, from the error's field", () => {
  let s: DashboardServer;
  let signed: Signed;
  beforeAll(async () => {
    s = startDashboard();
    signed = await signIn(s.url, s.admin.secret);
  });
  afterAll(() => s.stop());

  test.each([
    ["tier", { tier: "gold" }, "tier gold is not one of admin, client"],
    ["label", { label: "x".repeat(201) }, "--label is 201 characters long"],
    ["models", { models: "gpt-4o,,o3" }, "--models gpt-4o,,o3 has an empty entry"],
    ["rateLimit", { rateLimit: "-3" }, "--rate-limit -3 is not a positive whole number"],
    ["premiumQuota", { premiumQuota: "lots" }, "--premium-quota lots is not a positive whole number"],
    ["budget", { budget: "lots" }, "--budget lots is not an amount with a unit"],
    ["expires", { expires: "yesterday" }, "--expires yesterday is neither a duration nor a date"],
  ] as const)("create: an error about %s is shown beside that input and tied to it (aria-describedby), no other input marked", async (field, input, says) => {
    const response = await postForm(s.url, "/dashboard/keys", signed.cookie, { csrf: signed.csrf, tier: "client", label: "ok", ...input });
    expect(response.status).toBe(400);
    const marked = await invalidInputs(await response.text());
    expect(marked).toHaveLength(1);
    expect(marked[0]!.name).toBe(field);
    expect(marked[0]!.describedBy).toBe(`key-${field}-error`);
    expect(marked[0]!.says).toStartWith(says);
  });

  test("edit: the error is beside the field it is about, though the form changed several fields", async () => {
    const key = createKey(s.store.db, { tier: "client", label: "to edit", allowedModels: ["*"], rateLimit: 60 }).row;
    const response = await postForm(s.url, `/dashboard/keys/${key.id}/edit`, signed.cookie, {
      csrf: signed.csrf,
      label: "renamed",
      models: "gpt-4o",
      rateLimit: "120",
      premiumQuota: "none",
      budget: "5usd",
      expires: "2020-01-01",
    });
    expect(response.status).toBe(400);
    const marked = await invalidInputs(await response.text());
    expect(marked).toEqual([{ name: "expires", describedBy: "key-expires-error", says: expect.stringContaining("--expires 2020-01-01 is in the past") }]);
  });
});
