import Engine
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Processing
import Store

/// `/admin/`: a server-rendered status page for operators (no front-end build), refreshing itself
/// every 5 s: engine figures, live channels, and the last 50 faxes with a thumbnail of their first
/// page (inline PNGs, so the page needs no second authenticated request). The admin token comes
/// as a Bearer header or `?token=` (a browser cannot send a header from the address bar).
extension APIServer {
    func adminPage(_ request: Request) async throws -> Response {
        var token = request.uri.queryParameters.get("token")
        if token == nil { try admin(request) } else {
            guard let expected = adminToken, Self.constantTimeEqual(token!, expected) else {
                throw APIError(.unauthorized, "unauthorized", "the admin token is not valid")
            }
        }
        if request.headers[.authorization] != nil { token = nil }
        let status = try await statusJSON()
        let live = await service.daemon.orchestrator.liveCalls()
        let faxes = try store.read { try $0.recentTransmissions(limit: 50) }
        var thumbnails: [String: String] = [:]
        for fax in faxes where fax.pagesTotal > 0 || fax.pagesTransferred > 0 {
            if let png = try? await thumbnailData(fax) { thumbnails[fax.uuid] = png.base64EncodedString() }
        }
        let html = AdminHTML.render(status: status, live: live, faxes: faxes, thumbnails: thumbnails,
                                    refresh: token.map { "?token=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") } ?? "")
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// Page 1 of a fax as PNG (cached under fax_files/thumbs).
    func thumbnailData(_ t: FaxTransmission) async throws -> Data {
        guard let data = FileManager.default.contents(atPath: try await thumbnailFile(t, page: 1)) else { throw APIError.notFound("page 1") }
        return data
    }
}

enum AdminHTML {
    static func render(status: [String: Any], live: [LiveCall], faxes: [FaxTransmission], thumbnails: [String: String], refresh: String) -> String {
        var rows = ""
        for call in live {
            rows += "<tr><td>\(e(call.direction.rawValue))</td><td>\(e(call.state))</td><td>\(e(call.transport))</td>"
            rows += "<td>\(e(call.remoteNumber ?? "-"))</td><td>\(e(call.localNumber ?? "-"))</td><td>\(call.pages)</td>"
            rows += "<td>\(call.bitRate)</td><td>\(String(format: "%.0f s", call.ageSeconds))</td><td class=id>\(e(call.uuid))</td></tr>\n"
        }
        if live.isEmpty { rows = "<tr><td colspan=9 class=none>no calls in progress</td></tr>" }
        var recent = ""
        let formatter = ISO8601DateFormatter()
        for fax in faxes {
            let thumb = thumbnails[fax.uuid].map { "<img alt=\"page 1\" src=\"data:image/png;base64,\($0)\">" } ?? "<span class=none>-</span>"
            recent += "<tr><td>\(thumb)</td><td>\(e(fax.direction.rawValue))</td><td class=\(e(fax.status.rawValue))>\(e(fax.status.rawValue))</td>"
            recent += "<td>\(e(fax.fromNumber ?? "-"))</td><td>\(e(fax.toNumber ?? "-"))</td><td>\(fax.pagesTransferred)/\(fax.pagesTotal)</td>"
            recent += "<td>\(fax.attempts)</td><td>\(e(formatter.string(from: fax.createdAt)))</td><td>\(e(fax.error ?? ""))</td></tr>\n"
        }
        if faxes.isEmpty { recent = "<tr><td colspan=9 class=none>no faxes yet</td></tr>" }
        var shards = ""
        for shard in (status["shards"] as? [[String: Any]]) ?? [] {
            shards += "<tr><td>\(shard["index"] ?? "")</td><td>\(shard["channels"] ?? "")</td><td>\(shard["ticks"] ?? "")</td>"
            shards += "<td>\(shard["lateness_p50_us"] ?? "")</td><td>\(shard["lateness_p99_us"] ?? "")</td><td>\(shard["lateness_max_us"] ?? "")</td></tr>\n"
        }
        let queue = status["queue"] as? [String: Any] ?? [:]
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5; url=/admin/\(refresh)">
        <title>faxd status</title>
        <style>
        body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
        h1{font-size:20px;margin:0 0 .3em} h2{font-size:16px;margin:1.4em 0 .4em}
        table{border-collapse:collapse;width:100%} th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:middle}
        th{background:#f3f3f3} .id{font:12px monospace;color:#666} .none{color:#888}
        .completed{color:#070} .failed{color:#b00} .partial{color:#a60} .queued,.dialing,.transmitting{color:#036}
        img{height:64px;border:1px solid #ccc;background:#fff} .facts span{margin-right:1.5em}
        </style></head><body>
        <h1>faxd \(e(status["version"] as? String ?? ""))</h1>
        <div class=facts><span>uptime \(Int(status["uptime_s"] as? Double ?? 0)) s</span><span>active calls \(status["active_calls"] ?? 0)</span>
        <span>channels \(status["active_channels"] ?? 0)</span><span>calls ended \(status["calls_ended"] ?? 0)</span>
        <span>queued \(queue["queued"] ?? 0)</span><span>sending \(status["active_sends"] ?? 0)</span><span>outbox \(status["outbox_pending"] ?? 0)</span></div>
        <h2>Live channels</h2>
        <table id=channels><tr><th>direction</th><th>state</th><th>transport</th><th>remote</th><th>local</th><th>pages</th><th>bit/s</th><th>age</th><th>uuid</th></tr>
        \(rows)</table>
        <h2>Media shards (tick lateness, us)</h2>
        <table id=shards><tr><th>shard</th><th>channels</th><th>ticks</th><th>p50</th><th>p99</th><th>max</th></tr>
        \(shards)</table>
        <h2>Last 50 faxes</h2>
        <table id=faxes><tr><th>page 1</th><th>direction</th><th>status</th><th>from</th><th>to</th><th>pages</th><th>attempts</th><th>created</th><th>error</th></tr>
        \(recent)</table>
        </body></html>
        """
    }

    /// HTML text escaping.
    static func e(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
}
