/**
 * Responses' hosted `web_search` / `web_search_preview` on a model Copilot serves only on chat: the gateway
 * runs the search (../chat/web-search.ts) and answers as OpenAI does: `web_search_call` output items, and
 * `url_citation` annotations on the text that names a source; streamed as OpenAI's events.
 */
import {
  DEFAULT_MAX_USES,
  domainList,
  locationOf,
  type SearchLoopResult,
  type SearchSettings,
  type SearchSource,
  WEB_SEARCH_FUNCTION,
} from "../chat/web-search";
import { chatToResponse, mapUsage, type ResponseContext } from "./from-chat";
import { newId, type OutputItem, type ResponseObject } from "./types";

/** What the hosted tool asks: `filters.allowed_domains` and `user_location`; OpenAI's tool has no max_uses, the gateway's bound holds. */
export function settingsOf(tool: Record<string, unknown> | undefined, model: string): SearchSettings {
  const filters = tool?.filters as Record<string, unknown> | undefined;
  const externalWebAccess = typeof tool?.external_web_access === "boolean" ? tool.external_web_access : undefined;
  return {
    allowedDomains: domainList(filters?.allowed_domains),
    userLocation: locationOf(tool?.user_location),
    maxUses: DEFAULT_MAX_USES,
    externalWebAccess,
    model,
  };
}

/** The sources a text names by URL, as `url_citation` annotations at each place it names them. */
function annotationsOf(text: string, sources: SearchSource[]) {
  const notes: { type: "url_citation"; url: string; title: string; start_index: number; end_index: number }[] = [];
  for (const source of sources) {
    const start = text.indexOf(source.url);
    if (start >= 0) notes.push({ type: "url_citation", url: source.url, title: source.title, start_index: start, end_index: start + source.url.length });
  }
  return notes.sort((a, b) => a.start_index - b.start_index);
}

/** The loop's turns as one Response: each turn's reasoning and message, its searches as `web_search_call` items, the client's calls last. */
export function searchResponse(result: SearchLoopResult, context: ResponseContext): ResponseObject {
  const sources = result.turns.flatMap((turn) => turn.searches.flatMap((search) => search.sources));
  const output: OutputItem[] = [];
  let last: ResponseObject | undefined;
  for (const turn of result.turns) {
    last = chatToResponse(turn.completion, context);
    for (const item of last.output) {
      if (item.type === "function_call") continue;
      if (item.type === "message") for (const part of item.content) part.annotations = annotationsOf(part.text, sources);
      output.push(item);
    }
    for (const search of turn.searches) {
      output.push({
        id: newId("ws"),
        type: "web_search_call",
        status: search.error ? "failed" : "completed",
        action: { type: "search", query: search.query, sources: search.sources.map((source) => ({ type: "url", url: source.url })) },
      } as unknown as OutputItem);
    }
    output.push(...last.output.filter((item) => item.type === "function_call" && item.name !== WEB_SEARCH_FUNCTION));
  }
  return { ...(last as ResponseObject), output, usage: mapUsage(result.usage) };
}

/**
 * A whole Response as OpenAI's event stream: created, in_progress, each output item added → its parts
 * and deltas (text with its annotations, a call's arguments, a search's in_progress / searching / completed)
 * → done, then completed. Every event carries its sequence_number.
 */
export function responseEvents(response: ResponseObject): string {
  let sequence = 0;
  let out = "";
  const emit = (type: string, data: Record<string, unknown>) => {
    out += `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...data })}\n\n`;
  };
  const started = { ...response, status: "in_progress", output: [], usage: null };
  emit("response.created", { response: started });
  emit("response.in_progress", { response: started });
  response.output.forEach((item, output_index) => {
    const i = item as unknown as Record<string, unknown> & { id: string; type: string };
    const at = { item_id: i.id, output_index };
    if (i.type === "message") {
      emit("response.output_item.added", { output_index, item: { ...i, status: "in_progress", content: [] } });
      (i.content as { text: string; annotations: unknown[] }[]).forEach((part, content_index) => {
        emit("response.content_part.added", { ...at, content_index, part: { ...part, text: "", annotations: [] } });
        emit("response.output_text.delta", { ...at, content_index, delta: part.text, logprobs: [] });
        part.annotations.forEach((annotation, annotation_index) => {
          emit("response.output_text.annotation.added", { ...at, content_index, annotation_index, annotation });
        });
        emit("response.output_text.done", { ...at, content_index, text: part.text, logprobs: [] });
        emit("response.content_part.done", { ...at, content_index, part });
      });
    } else if (i.type === "web_search_call") {
      emit("response.output_item.added", { output_index, item: { ...i, status: "in_progress" } });
      for (const phase of ["in_progress", "searching", "completed"]) emit(`response.web_search_call.${phase}`, at);
    } else if (i.type === "function_call") {
      emit("response.output_item.added", { output_index, item: { ...i, status: "in_progress", arguments: "" } });
      emit("response.function_call_arguments.delta", { ...at, delta: i.arguments });
      emit("response.function_call_arguments.done", { ...at, arguments: i.arguments });
    } else {
      emit("response.output_item.added", { output_index, item: i });
    }
    emit("response.output_item.done", { output_index, item: i });
  });
  emit(response.status === "incomplete" ? "response.incomplete" : "response.completed", { response });
  return out;
}
