/**
 * Namespace tools (`{type: "namespace", name, tools: [...]}`, Codex's multi-agent tools) on the
 * path translated to Chat Completions, which knows only flat function tools: each function of a
 * namespace becomes one Chat function named `<namespace>__<name>`, and a call to that name comes
 * back as the Responses `function_call` with `name` and `namespace` apart, as OpenAI answers it.
 */

const SEPARATOR = "__";

/** The Chat function name of a namespace's function. */
export const flatToolName = (namespace: string, name: string) => `${namespace}${SEPARATOR}${name}`;

/**
 * A Chat tool call's name as the Responses client knows it: `{name, namespace}` when the request
 * declared it inside a namespace, else the name as it is.
 */
export function namespacedName(tools: readonly Record<string, unknown>[] | null | undefined, flat: string): { name: string; namespace?: string } {
  if (!flat.includes(SEPARATOR)) return { name: flat };
  for (const tool of tools ?? []) {
    if (tool.type !== "namespace" || typeof tool.name !== "string" || !flat.startsWith(tool.name + SEPARATOR)) continue;
    const name = flat.slice(tool.name.length + SEPARATOR.length);
    const inner = Array.isArray(tool.tools) ? (tool.tools as { name?: unknown }[]) : [];
    if (inner.some((t) => t?.name === name)) return { name, namespace: tool.name };
  }
  return { name: flat };
}
