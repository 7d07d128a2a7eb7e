// NettyTarget.java - Netty's PROXY protocol decoder (HAProxyMessageDecoder,
// codec-haproxy) as a ppmq-conform target: the decoder first on every
// listener, then TLS (ssl, wss), then the HTTP upgrade and WebSocket frames
// (ws, wss), then a minimal MQTT server that answers CONNECT with CONNACK.
// What the decoder hands over (an HAProxyMessage) is recorded per
// connection and shown by a small HTTP API; every connection the decoder
// (or anything after it) refuses is logged with the reason.
//
// The pipeline has the order of a Netty broker that reads PROXY headers
// (TBMQ builds its listeners the same way): the header before TLS and
// before the HTTP upgrade, a handler right after the decoder that takes
// the client address from the message and then leaves the pipeline. What
// that handler does with the message is the only choice made here:
//
//   NETTY_ADDRESS_RULES=record  (default) the message's source address and
//       port when it has one, else the socket peer (LOCAL, UNKNOWN): the
//       decoder's own behaviour, nothing added;
//   NETTY_ADDRESS_RULES=tbmq    the rules TBMQ's handler applies after the
//       decoder, as read in its source (ProxyIpAddressHandler): a message
//       without a source address or with source port 0 closes the
//       connection (LOCAL, UNKNOWN, UNIX, port 0), and so does anything
//       that is not a decoded header.
//
// MQTT: CONNECT (3.1, 3.1.1, 5) is answered with CONNACK; PINGREQ with
// PINGRESP; DISCONNECT closes; any other packet closes the connection
// (this target holds sessions, it does not route messages). A login is
// accepted with no user name (NETTY_ALLOW_ANONYMOUS, default 1) or with the
// one user name and password below; any other is refused with CONNACK
// "bad user name or password" and recorded as unauthorized.
//
// Environment:
//   NETTY_HOST                 bind address of every listener (127.0.0.1)
//   NETTY_TCP_PORT, NETTY_SSL_PORT, NETTY_WS_PORT, NETTY_WSS_PORT
//                              the listeners; an unset or empty one is not
//                              opened, 0 takes a free port
//   NETTY_ADMIN_PORT           the HTTP API (required; 0: a free port)
//   NETTY_CERT, NETTY_KEY      PEM certificate and PKCS#8 key (ssl, wss)
//   NETTY_WS_PATH              WebSocket path (default /mqtt), subprotocol mqtt
//   MQTT_PROXY_PROTOCOL_ENABLED           true|false, default false
//   MQTT_{TCP,SSL,WS,WSS}_PROXY_PROTOCOL_ENABLED
//                              true|false per listener; unset or empty
//                              inherits the global value (TBMQ's names)
//   NETTY_ADDRESS_RULES        record | tbmq (above)
//   NETTY_USERNAME, NETTY_PASSWORD  the one login (ppmq / ppmq-secret)
//   NETTY_ALLOW_ANONYMOUS      1 (default) or 0
//
// HTTP API (JSON):
//   GET /healthz              {"status": "ok", "netty": VERSION, ports...}
//   GET /sessions             every session, oldest first
//   GET /sessions/{id}        the last session of that client id, or 404
//   GET /unauthorized         refused logins, oldest first
//   GET /unauthorized/{id}    the last refused login of that client id
//   DELETE /unauthorized      clears that list
// A session: clientId, username, listener, clientIp, clientPort (what the
// decoder handed over, or the socket peer), peerIp, peerPort (the socket
// peer), connected, mqttVersion, tls, proxy (null, or version, command,
// protocol, sourceAddress, sourcePort, destinationAddress,
// destinationPort, tlvs: the type of each TLV the decoder returned).
//
// Output, one line each, "netty-target: " first:
//   ready tcp=P ssl=P ws=P wss=P admin=P netty=V rules=R proxy=...
//   LISTENER PEER_IP:PEER_PORT: header vV COMMAND PROTOCOL SRC -> DST (tlvs N)
//   LISTENER PEER_IP:PEER_PORT: session ID from IP:PORT (mqtt V)
//   LISTENER PEER_IP:PEER_PORT: refused login ID from IP:PORT: REASON
//   LISTENER PEER_IP:PEER_PORT: closed: REASON
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.MessageToMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyTLV;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.Version;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

public final class NettyTarget {
    static final String ME = "netty-target";
    static final int MAX_RECORDS = 10000;
    static final int MAX_PACKET = 1 << 20;
    static final AttributeKey<Conn> CONN = AttributeKey.valueOf("ppmq.conn");
    static final PrintStream OUT = new PrintStream(System.out, true);

    static String rules = "record";
    static String username = "ppmq";
    static String password = "ppmq-secret";
    static boolean allowAnonymous = true;

    // Bounded, oldest first; guarded by their own monitors.
    static final Map<String, Session> sessions = new LinkedHashMap<String, Session>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Session> e) {
            return size() > MAX_RECORDS;
        }
    };
    static final List<Session> refused = new ArrayList<>();

    static void log(String msg) {
        synchronized (OUT) {
            OUT.println(ME + ": " + msg);
            OUT.flush();
        }
    }

    static void die(String msg, int code) {
        System.err.println(ME + ": " + msg);
        System.exit(code);
    }

    static String env(String name, String dflt) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? dflt : v;
    }

    /** A port variable: -1 when unset or empty (listener not opened). */
    static int portEnv(String name) {
        String v = System.getenv(name);
        if (v == null || v.isEmpty()) {
            return -1;
        }
        try {
            int p = Integer.parseInt(v);
            if (p >= 0 && p <= 65535) {
                return p;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        die(name + ": '" + v + "' is not a port", 2);
        return -1;
    }

    /** true, false, or null (unset: inherit), as TBMQ reads them. */
    static Boolean boolEnv(String name) {
        String v = System.getenv(name);
        if (v == null || v.isEmpty()) {
            return null;
        }
        if (v.equalsIgnoreCase("true")) {
            return Boolean.TRUE;
        }
        if (v.equalsIgnoreCase("false")) {
            return Boolean.FALSE;
        }
        die(name + ": '" + v + "' is neither true nor false", 2);
        return null;
    }

    // ---- per connection ------------------------------------------------------

    /** What is known of one connection; set on the channel as CONN. */
    static final class Conn {
        final String listener;
        final boolean tls;
        final String peerIp;
        final int peerPort;
        volatile String clientIp;
        volatile int clientPort;
        volatile String proxyJson = "null";
        private boolean closeLogged;

        Conn(String listener, boolean tls, InetSocketAddress peer) {
            this.listener = listener;
            this.tls = tls;
            this.peerIp = peer.getAddress().getHostAddress();
            this.peerPort = peer.getPort();
            this.clientIp = peerIp;
            this.clientPort = peerPort;
        }

        String who() {
            return listener + " " + hostPort(peerIp, peerPort);
        }

        /** true the first time only: a connection's close is logged once, with its first reason. */
        synchronized boolean firstClose() {
            boolean first = !closeLogged;
            closeLogged = true;
            return first;
        }
    }

    static String hostPort(String ip, int port) {
        return (ip != null && ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + port;
    }

    static Conn conn(Channel ch) {
        return ch.attr(CONN).get();
    }

    /** A session or a refused login, as the HTTP API shows it. */
    static final class Session {
        final String clientId;
        final String user;
        final Conn conn;
        final String clientIp;
        final int clientPort;
        final int mqttVersion;
        final String reason;
        final long ts = System.currentTimeMillis();
        volatile boolean connected;

        Session(String clientId, String user, Conn conn, int mqttVersion, String reason) {
            this.clientId = clientId;
            this.user = user;
            this.conn = conn;
            this.clientIp = conn.clientIp;
            this.clientPort = conn.clientPort;
            this.mqttVersion = mqttVersion;
            this.reason = reason;
        }

        String json() {
            StringBuilder b = new StringBuilder(256);
            b.append("{\"clientId\":").append(str(clientId))
                .append(",\"username\":").append(str(user))
                .append(",\"listener\":").append(str(conn.listener))
                .append(",\"clientIp\":").append(str(clientIp))
                .append(",\"clientPort\":").append(clientPort)
                .append(",\"peerIp\":").append(str(conn.peerIp))
                .append(",\"peerPort\":").append(conn.peerPort)
                .append(",\"connected\":").append(connected)
                .append(",\"mqttVersion\":").append(mqttVersion)
                .append(",\"tls\":").append(conn.tls)
                .append(",\"proxy\":").append(conn.proxyJson);
            if (reason != null) {
                b.append(",\"reason\":").append(str(reason));
            }
            return b.append(",\"ts\":").append(ts).append('}').toString();
        }
    }

    static String str(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    // ---- right after the decoder: the client's address -------------------------

    /**
     * Takes the HAProxyMessage the decoder produced, records it, and leaves
     * the pipeline so that the bytes after the header reach the next stage.
     * On a listener without PROXY it only notes the socket peer.
     */
    static final class AddressHandler extends ChannelInboundHandlerAdapter {
        private final boolean proxy;

        AddressHandler(boolean proxy) {
            this.proxy = proxy;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            if (!proxy) {
                ctx.pipeline().remove(this);
            }
            super.channelActive(ctx);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Conn c = conn(ctx.channel());
            if (!(msg instanceof HAProxyMessage)) {
                if (rules.equals("tbmq")) {
                    ReferenceCountUtil.release(msg);
                    closeWith(ctx, "not a decoded PROXY header (tbmq rules)");
                    return;
                }
                ctx.fireChannelRead(msg);
                return;
            }
            HAProxyMessage m = (HAProxyMessage) msg;
            try {
                c.proxyJson = describe(m);
                log(c.who() + ": header v" + (m.protocolVersion().name().equals("V1") ? 1 : 2) + " "
                    + m.command() + " " + m.proxiedProtocol() + " "
                    + hostPort(m.sourceAddress(), m.sourcePort()) + " -> "
                    + hostPort(m.destinationAddress(), m.destinationPort())
                    + " (tlvs " + m.tlvs().size() + ")");
                if (rules.equals("tbmq") && (m.sourceAddress() == null || m.sourcePort() <= 0)) {
                    closeWith(ctx, "no source address or source port 0 (tbmq rules)");
                    return;
                }
                if (m.sourceAddress() != null) {
                    c.clientIp = m.sourceAddress();
                    c.clientPort = m.sourcePort();
                }
                ctx.pipeline().remove(this);
            } finally {
                m.release();
            }
        }

        static String describe(HAProxyMessage m) {
            StringBuilder b = new StringBuilder(200);
            b.append("{\"version\":").append(m.protocolVersion().name().equals("V1") ? 1 : 2)
                .append(",\"command\":").append(str(m.command().name()))
                .append(",\"protocol\":").append(str(m.proxiedProtocol().name()))
                .append(",\"sourceAddress\":").append(str(m.sourceAddress()))
                .append(",\"sourcePort\":").append(m.sourcePort())
                .append(",\"destinationAddress\":").append(str(m.destinationAddress()))
                .append(",\"destinationPort\":").append(m.destinationPort())
                .append(",\"tlvs\":[");
            String sep = "";
            for (HAProxyTLV t : m.tlvs()) {
                b.append(sep).append(t.typeByteValue() & 0xff);
                sep = ",";
            }
            return b.append("]}").toString();
        }
    }

    static void closeWith(ChannelHandlerContext ctx, String reason) {
        Conn c = conn(ctx.channel());
        if (c != null && c.firstClose()) {
            log(c.who() + ": closed: " + reason);
        }
        ctx.close();
    }

    // ---- WebSocket frames <-> bytes ---------------------------------------------

    /** Binary (and continuation) frames in, their bytes out; anything else closes. */
    static final class WsFrames extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof BinaryWebSocketFrame || msg instanceof ContinuationWebSocketFrame) {
                ctx.fireChannelRead(((io.netty.buffer.ByteBufHolder) msg).content());
                return;
            }
            String what = msg.getClass().getSimpleName();
            ReferenceCountUtil.release(msg);
            closeWith(ctx, "WebSocket: " + what + " (not a binary frame, or the path is not the MQTT one)");
        }
    }

    /** The MQTT handler's bytes, one binary frame per write. */
    static final class WsEncoder extends MessageToMessageEncoder<ByteBuf> {
        @Override
        protected void encode(ChannelHandlerContext ctx, ByteBuf msg, List<Object> out) {
            out.add(new BinaryWebSocketFrame(msg.retain()));
        }
    }

    // ---- MQTT: CONNECT / CONNACK, PINGREQ, DISCONNECT ------------------------------

    static final class Malformed extends Exception {
        private static final long serialVersionUID = 1L;

        Malformed(String why) {
            super(why, null, false, false);
        }
    }

    /** Bounds-checked reads of one packet's body. */
    static final class Body {
        final ByteBuf b;

        Body(ByteBuf b) {
            this.b = b;
        }

        int u8() throws Malformed {
            if (!b.isReadable()) {
                throw new Malformed("packet too short");
            }
            return b.readUnsignedByte();
        }

        int u16() throws Malformed {
            if (b.readableBytes() < 2) {
                throw new Malformed("packet too short");
            }
            return b.readUnsignedShort();
        }

        byte[] bin() throws Malformed {
            int n = u16();
            if (b.readableBytes() < n) {
                throw new Malformed("field runs past the packet");
            }
            byte[] v = new byte[n];
            b.readBytes(v);
            return v;
        }

        String utf8() throws Malformed {
            return new String(bin(), StandardCharsets.UTF_8);
        }

        int varint() throws Malformed {
            int v = 0;
            for (int i = 0; i < 4; i++) {
                int d = u8();
                v |= (d & 0x7f) << (7 * i);
                if ((d & 0x80) == 0) {
                    return v;
                }
            }
            throw new Malformed("variable byte integer longer than 4 bytes");
        }

        void skip(int n) throws Malformed {
            if (b.readableBytes() < n) {
                throw new Malformed("properties run past the packet");
            }
            b.skipBytes(n);
        }
    }

    static final class MqttHandler extends ByteToMessageDecoder {
        private boolean connected;
        private boolean done;
        private Session session;

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            if (done) {
                in.skipBytes(in.readableBytes());
                return;
            }
            int start = in.readerIndex();
            int avail = in.readableBytes();
            if (avail < 2) {
                return;
            }
            int len = 0;
            int i = 1;
            for (;; i++) {
                if (i > 4) {
                    fail(ctx, in, "MQTT: remaining length longer than 4 bytes");
                    return;
                }
                if (avail < i + 1) {
                    return;
                }
                int d = in.getUnsignedByte(start + i);
                len |= (d & 0x7f) << (7 * (i - 1));
                if ((d & 0x80) == 0) {
                    break;
                }
            }
            if (len > MAX_PACKET) {
                fail(ctx, in, "MQTT: packet of " + len + " bytes");
                return;
            }
            if (avail < i + 1 + len) {
                return;
            }
            int type = in.getUnsignedByte(start) >> 4;
            in.skipBytes(i + 1);
            ByteBuf body = in.readSlice(len);
            try {
                packet(ctx, type, new Body(body));
            } catch (Malformed e) {
                fail(ctx, in, "MQTT: malformed " + (type == 1 ? "CONNECT" : "packet") + ": " + e.getMessage());
            }
        }

        private void fail(ChannelHandlerContext ctx, ByteBuf in, String why) {
            done = true;
            in.skipBytes(in.readableBytes());
            closeWith(ctx, why);
        }

        private void packet(ChannelHandlerContext ctx, int type, Body body) throws Malformed {
            if (!connected && type != 1) {
                fail(ctx, body.b, "MQTT: packet type " + type + " before CONNECT");
                return;
            }
            switch (type) {
            case 1:
                if (connected) {
                    fail(ctx, body.b, "MQTT: a second CONNECT");
                    return;
                }
                connect(ctx, body);
                return;
            case 12:
                ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {(byte) 0xd0, 0}));
                return;
            case 14:
                done = true;
                ctx.close();
                return;
            default:
                fail(ctx, body.b, "MQTT: packet type " + type + " (this target answers CONNECT, PINGREQ and DISCONNECT only)");
            }
        }

        private void connect(ChannelHandlerContext ctx, Body p) throws Malformed {
            Conn c = conn(ctx.channel());
            String proto = p.utf8();
            int level = p.u8();
            if (!(proto.equals("MQTT") && (level == 4 || level == 5)) && !(proto.equals("MQIsdp") && level == 3)) {
                // 3.1.1: 0x01 unacceptable protocol version; 5: 0x84.
                connack(ctx, level == 5 ? 5 : 4, level == 5 ? 0x84 : 0x01, true);
                closeWith(ctx, "MQTT: protocol " + proto + " level " + level);
                return;
            }
            int flags = p.u8();
            p.u16(); // keep alive: not enforced
            if (level == 5) {
                p.skip(p.varint());
            }
            String id = p.utf8();
            if ((flags & 0x04) != 0) {
                if (level == 5) {
                    p.skip(p.varint());
                }
                p.bin();
                p.bin();
            }
            String user = (flags & 0x80) != 0 ? p.utf8() : null;
            byte[] pass = (flags & 0x40) != 0 ? p.bin() : null;
            if (id.isEmpty()) {
                id = "netty-" + Long.toHexString(System.nanoTime());
            }
            boolean ok = user == null ? allowAnonymous && pass == null
                : user.equals(username) && pass != null
                    && password.equals(new String(pass, StandardCharsets.UTF_8));
            if (!ok) {
                String why = user == null ? "no user name (anonymous logins are off)" : "bad user name or password";
                Session s = new Session(id, user, c, level, why);
                synchronized (refused) {
                    refused.add(s);
                    if (refused.size() > MAX_RECORDS) {
                        refused.remove(0);
                    }
                }
                log(c.who() + ": refused login " + id + " from " + hostPort(c.clientIp, c.clientPort) + ": " + why);
                // 3.1.1: 0x04 bad user name or password; 5: 0x86.
                connack(ctx, level, level == 5 ? 0x86 : 0x04, true);
                done = true;
                return;
            }
            session = new Session(id, user, c, level, null);
            session.connected = true;
            synchronized (sessions) {
                sessions.remove(id);
                sessions.put(id, session);
            }
            connected = true;
            log(c.who() + ": session " + id + " from " + hostPort(c.clientIp, c.clientPort) + " (mqtt " + level + ")");
            connack(ctx, level, 0, false);
        }

        private static void connack(ChannelHandlerContext ctx, int level, int code, boolean close) {
            byte[] b = level == 5
                ? new byte[] {0x20, 3, 0, (byte) code, 0}
                : new byte[] {0x20, 2, 0, (byte) code};
            ChannelFutureListener then = close ? ChannelFutureListener.CLOSE : ChannelFutureListener.CLOSE_ON_FAILURE;
            ctx.writeAndFlush(Unpooled.wrappedBuffer(b)).addListener(then);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            if (session != null) {
                session.connected = false;
            }
            super.channelInactive(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            Throwable t = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
            String msg = t.getMessage();
            closeWith(ctx, t.getClass().getSimpleName() + (msg == null ? "" : ": " + msg.replace('\n', ' ')));
        }
    }

    // ---- listeners -----------------------------------------------------------

    static final class Listener {
        final String kind;
        final int port;
        final boolean proxy;
        final boolean tls;
        final boolean ws;
        int bound;

        Listener(String kind, int port, boolean proxy) {
            this.kind = kind;
            this.port = port;
            this.proxy = proxy;
            this.tls = kind.equals("ssl") || kind.equals("wss");
            this.ws = kind.equals("ws") || kind.equals("wss");
        }
    }

    static ChannelInitializer<SocketChannel> pipeline(final Listener l, final SslContext ssl, final String wsPath) {
        return new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
                ch.attr(CONN).set(new Conn(l.kind, l.tls, ch.remoteAddress()));
                ChannelPipeline p = ch.pipeline();
                if (l.proxy) {
                    p.addLast("proxy", new HAProxyMessageDecoder());
                }
                p.addLast("address", new AddressHandler(l.proxy));
                if (l.tls) {
                    p.addLast("tls", ssl.newHandler(ch.alloc()));
                }
                if (l.ws) {
                    p.addLast("http", new HttpServerCodec());
                    p.addLast("aggregator", new HttpObjectAggregator(65536));
                    p.addLast("upgrade", new WebSocketServerProtocolHandler(wsPath, "mqtt", false, 65536));
                    p.addLast("frames", new WsFrames());
                    p.addLast("frame-encoder", new WsEncoder());
                }
                p.addLast("mqtt", new MqttHandler());
            }
        };
    }

    // ---- HTTP API ------------------------------------------------------------

    static void send(HttpExchange ex, int code, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(code, b.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(b);
        }
    }

    static String array(List<Session> list) {
        StringBuilder b = new StringBuilder("[");
        String sep = "";
        for (Session s : list) {
            b.append(sep).append(s.json());
            sep = ",";
        }
        return b.append(']').toString();
    }

    static void api(HttpExchange ex, String health) throws IOException {
        String method = ex.getRequestMethod();
        String[] parts = ex.getRequestURI().getRawPath().replaceAll("^/+|/+$", "").split("/+");
        for (int i = 0; i < parts.length; i++) {
            parts[i] = URLDecoder.decode(parts[i].replace("+", "%2B"), StandardCharsets.UTF_8);
        }
        String what = parts[0];
        if (method.equals("GET") && what.equals("healthz") && parts.length == 1) {
            send(ex, 200, health);
        } else if (method.equals("GET") && what.equals("sessions")) {
            List<Session> all;
            synchronized (sessions) {
                all = new ArrayList<>(sessions.values());
            }
            if (parts.length == 1) {
                send(ex, 200, array(all));
                return;
            }
            Session s;
            synchronized (sessions) {
                s = sessions.get(parts[1]);
            }
            if (s == null) {
                send(ex, 404, "{\"error\":\"no such session\"}");
            } else {
                send(ex, 200, s.json());
            }
        } else if (what.equals("unauthorized") && method.equals("DELETE") && parts.length == 1) {
            synchronized (refused) {
                refused.clear();
            }
            send(ex, 200, "[]");
        } else if (what.equals("unauthorized") && method.equals("GET")) {
            List<Session> all;
            synchronized (refused) {
                all = new ArrayList<>(refused);
            }
            if (parts.length == 1) {
                send(ex, 200, array(all));
                return;
            }
            for (int i = all.size() - 1; i >= 0; i--) {
                if (all.get(i).clientId.equals(parts[1])) {
                    send(ex, 200, all.get(i).json());
                    return;
                }
            }
            send(ex, 404, "{\"error\":\"no refused login for this client id\"}");
        } else {
            send(ex, 404, "{\"error\":\"not found\"}");
        }
    }

    // ---- main ----------------------------------------------------------------

    public static void main(String[] args) throws Exception {
        String host = env("NETTY_HOST", "127.0.0.1");
        rules = env("NETTY_ADDRESS_RULES", "record").toLowerCase(Locale.ROOT);
        if (!rules.equals("record") && !rules.equals("tbmq")) {
            die("NETTY_ADDRESS_RULES: '" + rules + "' is neither record nor tbmq", 2);
        }
        username = env("NETTY_USERNAME", "ppmq");
        password = env("NETTY_PASSWORD", "ppmq-secret");
        allowAnonymous = !env("NETTY_ALLOW_ANONYMOUS", "1").equals("0");
        String wsPath = env("NETTY_WS_PATH", "/mqtt");
        int adminPort = portEnv("NETTY_ADMIN_PORT");
        if (adminPort < 0) {
            die("NETTY_ADMIN_PORT is not set", 2);
        }

        // TBMQ's inheritance: the listener's own value when set, else the global one.
        Boolean global = boolEnv("MQTT_PROXY_PROTOCOL_ENABLED");
        List<Listener> listeners = new ArrayList<>();
        for (String kind : new String[] {"tcp", "ssl", "ws", "wss"}) {
            String up = kind.toUpperCase(Locale.ROOT);
            int port = portEnv("NETTY_" + up + "_PORT");
            Boolean own = boolEnv("MQTT_" + up + "_PROXY_PROTOCOL_ENABLED");
            boolean proxy = own != null ? own : global != null && global;
            if (port >= 0) {
                listeners.add(new Listener(kind, port, proxy));
            }
        }
        if (listeners.isEmpty()) {
            die("no listener: set NETTY_TCP_PORT, NETTY_SSL_PORT, NETTY_WS_PORT or NETTY_WSS_PORT", 2);
        }

        SslContext ssl = null;
        for (Listener l : listeners) {
            if (l.tls && ssl == null) {
                String cert = env("NETTY_CERT", "");
                String key = env("NETTY_KEY", "");
                if (cert.isEmpty() || key.isEmpty()) {
                    die("the " + l.kind + " listener needs NETTY_CERT and NETTY_KEY", 2);
                }
                ssl = SslContextBuilder.forServer(new File(cert), new File(key)).build();
            }
        }

        EventLoopGroup boss = new NioEventLoopGroup(1);
        EventLoopGroup workers = new NioEventLoopGroup(2);
        List<Channel> servers = new ArrayList<>();
        HttpServer admin;
        try {
            for (Listener l : listeners) {
                ServerBootstrap b = new ServerBootstrap()
                    .group(boss, workers)
                    .channel(NioServerSocketChannel.class)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(pipeline(l, ssl, wsPath));
                Channel ch = b.bind(host, l.port).sync().channel();
                l.bound = ((InetSocketAddress) ch.localAddress()).getPort();
                servers.add(ch);
            }
            admin = HttpServer.create(new InetSocketAddress(host, adminPort), 64);
        } catch (Exception e) {
            workers.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
            boss.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
            die("cannot listen: " + e, 1);
            return;
        }

        String netty = "unknown";
        Version v = Version.identify().get("netty-codec-haproxy");
        if (v != null) {
            netty = v.artifactVersion();
        }
        StringBuilder ports = new StringBuilder();
        StringBuilder health = new StringBuilder("{\"status\":\"ok\",\"netty\":").append(str(netty))
            .append(",\"rules\":").append(str(rules));
        StringBuilder modes = new StringBuilder();
        for (Listener l : listeners) {
            ports.append(l.kind).append('=').append(l.bound).append(' ');
            health.append(",\"").append(l.kind).append("\":").append(l.bound);
            modes.append(modes.length() == 0 ? "" : ",").append(l.kind).append(':')
                .append(l.proxy ? "enabled" : "disabled");
        }
        final String healthJson = health.append(",\"admin\":").append(admin.getAddress().getPort())
            .append('}').toString();
        admin.createContext("/", ex -> {
            try {
                api(ex, healthJson);
            } catch (RuntimeException e) {
                send(ex, 500, "{\"error\":" + str(e.toString()) + "}");
            } finally {
                ex.close();
            }
        });
        admin.start();

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("stopping");
            admin.stop(0);
            for (Channel ch : servers) {
                ch.close();
            }
            workers.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
            boss.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
            log("stopped");
            // A stop asked for (SIGTERM, SIGINT) that went in order is a
            // success; the JVM would otherwise exit 128 + the signal.
            Runtime.getRuntime().halt(0);
        }));

        log("ready " + ports + "admin=" + admin.getAddress().getPort() + " host=" + host + " netty=" + netty
            + " rules=" + rules + " proxy=" + modes + " pid=" + ProcessHandle.current().pid());
        for (Channel ch : servers) {
            ch.closeFuture().sync();
        }
    }
}
