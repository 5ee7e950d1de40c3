// Peer (d): Socket.IO 4 on Node 24, the seeds' own stack. Clients join one room; a
// "publish" event is emitted to the whole room.
const { Server } = require("socket.io");
const port = Number(process.env.PORT || 3000);
const io = new Server(port, { transports: ["websocket"], perMessageDeflate: false });
io.on("connection", (socket) => {
  socket.join("bench");
  socket.on("publish", (m) => io.to("bench").emit("event", m));
});
console.log(`socket.io listening on ${port}`);
