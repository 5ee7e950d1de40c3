// Peer (b): a partyserver room that broadcasts every message to the room (hibernating).
import { Server, routePartykitRequest } from "partyserver";

export class Bench extends Server {
  static options = { hibernate: true };
  onMessage(_connection, message) {
    this.broadcast(message);
  }
}

export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname === "/health") return new Response("ok");
    return (await routePartykitRequest(request, env)) || new Response("not found", { status: 404 });
  },
};
