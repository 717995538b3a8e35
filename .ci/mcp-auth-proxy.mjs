// Forwards every request on 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT unchanged (the
// Host header too) but for one added header, `Authorization: Bearer KEY`: the MCP
// conformance suite has no option to send credentials, and /mcp needs them.
// Usage: node mcp-auth-proxy.mjs LISTEN_PORT TARGET_PORT KEY (LISTEN_PORT 0: any free port);
// prints the port it listens on.
import http from "node:http";

const [listenPort, targetPort, key] = process.argv.slice(2);
http
  .createServer((incoming, outgoing) => {
    const headers = { ...incoming.headers, authorization: `Bearer ${key}` };
    const forwarded = http.request(
      { host: "127.0.0.1", port: Number(targetPort), method: incoming.method, path: incoming.url, headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on("error", (e) => {
      outgoing.writeHead(502);
      outgoing.end(String(e));
    });
    incoming.pipe(forwarded);
  })
  .listen(Number(listenPort), "127.0.0.1", function () {
    console.log(this.address().port);
  });
