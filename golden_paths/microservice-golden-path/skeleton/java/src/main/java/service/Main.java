package service;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** ${{ values.name }}: an HTTP service with a health endpoint (JDK only, no framework). */
public final class Main {
    public static final String SERVICE_NAME = "${{ values.name }}";
    private static final String DATABASE_ENV =
            Map.of("postgres", "DATABASE_URL", "mongodb", "MONGODB_URI").get("${{ values.database }}");

    private Main() {}

    /** The JSON body of GET /healthz. */
    public static String health() {
        StringBuilder body = new StringBuilder("{\"status\":\"ok\",\"service\":\"" + SERVICE_NAME + "\"");
        if (DATABASE_ENV != null) {
            boolean configured = System.getenv(DATABASE_ENV) != null;
            body.append(",\"database\":\"").append(configured ? "configured" : "not configured").append('"');
        }
        return body.append('}').toString();
    }

    /** A started server on {@code port} (0 picks a free port). */
    public static HttpServer start(int port) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 0);
        server.createContext("/healthz", exchange -> send(exchange, 200, health()));
        server.createContext("/", exchange -> {
            if ("/".equals(exchange.getRequestURI().getPath())) {
                send(exchange, 200, "{\"service\":\"" + SERVICE_NAME + "\",\"version\":\"0.1.0\"}");
            } else {
                send(exchange, 404, "{\"error\":\"not found\"}");
            }
        });
        server.start();
        return server;
    }

    private static void send(HttpExchange exchange, int code, String body) throws IOException {
        byte[] data = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(code, data.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(data);
        }
    }

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "${{ values.port }}"));
        start(port);
        System.out.println(SERVICE_NAME + " listening on :" + port);
    }
}
