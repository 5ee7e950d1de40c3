// Peer (a): the smallest Durable Object that broadcasts. Every client message goes to
// every socket of the room (WebSocket Hibernation API). The ceiling for fan-out here.
export class Room {
  constructor(state) {
    this.state = state;
  }
  async fetch(request) {
    if (request.headers.get("upgrade") !== "websocket") return new Response("ok");
    const pair = new WebSocketPair();
    this.state.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
  webSocketMessage(_ws, message) {
    for (const s of this.state.getWebSockets()) {
      try {
        s.send(message);
      } catch {}
    }
  }
  webSocketClose(ws, code) {
    try {
      ws.close(code);
    } catch {}
  }
}

export default {
  fetch(request, env) {
    if (new URL(request.url).pathname === "/health") return new Response("ok");
    return env.ROOM.get(env.ROOM.idFromName("bench")).fetch(request);
  },
};
