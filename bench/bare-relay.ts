// The ceiling of any gateway on Bun, for bench:peers: Bun.serve handing each request to the fake
// Copilot's chat endpoint with fetch and its body straight back, and nothing else (no key, no
// event, no check, no translation: /v1/messages is sent to chat as it is). What copilot-api and
// its peers cost above this is their own work; what this costs is Bun's HTTP server and client.
// Run as `bun bench/bare-relay.ts <port> <fake url> <Copilot token>`.
const [port, upstream, token] = Bun.argv.slice(2);
Bun.serve({
  port: Number(port),
  hostname: "127.0.0.1",
  async fetch(request) {
    const answer = await fetch(`${upstream}/chat/completions`, {
      method: "POST",
      body: await request.arrayBuffer(),
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    });
    return new Response(answer.body, { status: answer.status, headers: { "content-type": answer.headers.get("content-type") ?? "application/json" } });
  },
});
