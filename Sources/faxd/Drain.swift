import ArgumentParser
import AsyncHTTPClient
import Engine
import Foundation
import NIOCore
import NIOHTTP1

/// `faxd drain`: tells a running `faxd serve` through its admin API (POST/DELETE /admin/drain)
/// to stop taking new calls and sends, or to take them again. The admin API is how the CLI
/// reaches a live daemon (the other commands work on the database); a signal would need the pid
/// and could not answer how many calls are left.
struct Drain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drain a running faxd: OPTIONS and new INVITEs get 503, queued sends wait, calls in progress finish.",
        discussion: """
            Talks to the daemon's admin API (http.listen, with FAXD_ADMIN_TOKEN or http.admin_token). \
            With --wait it returns once no call or send is live (exit 0), so `faxd drain --wait && systemctl stop faxd` \
            stops a node without cutting a fax. --off takes calls again.
            """)

    @Option(help: "YAML configuration file of the daemon: its http.listen and http.admin_token.")
    var config: String?

    @Option(help: "The daemon's HTTP address, e.g. http://127.0.0.1:8080 (default: from http.listen).")
    var url: String?

    @Flag(help: "End the drain: take calls and dial queued sends again.")
    var off = false

    @Flag(help: "Wait until no call or send is live, then exit 0.")
    var wait = false

    @Option(help: "With --wait: give up (exit 1) after this many seconds; 0 waits as long as it takes.")
    var timeout: Int = 0

    func validate() throws {
        if off && wait { throw ValidationError("--wait waits for a drain to empty the node; it does not go with --off") }
        if timeout < 0 { throw ValidationError("--timeout: \(timeout) must be 0 or more seconds") }
    }

    func run() throws {
        let configuration = try config.map(FaxdConfiguration.load(path:)) ?? FaxdConfiguration()
        let base = try url ?? Self.baseURL(configuration.http.listenHost, configuration.http.listenPort)
        let environment = ProcessInfo.processInfo.environment["FAXD_ADMIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        guard let token = environment ?? configuration.http.adminToken else {
            throw CLIError("no admin token: set FAXD_ADMIN_TOKEN or http.admin_token (the daemon's own)")
        }
        var state = try Self.call(off ? .DELETE : .POST, "\(base)/admin/drain", token: token)
        print(state.line)
        guard wait else { return }
        let deadline = timeout > 0 ? Date().addingTimeInterval(Double(timeout)) : Date.distantFuture
        var reported = state.live
        while state.live > 0 {
            if Date() >= deadline { throw CLIError("\(state.live) calls or sends still live after \(timeout) s; the node stays drained") }
            Thread.sleep(forTimeInterval: 1)
            state = try Self.call(.GET, "\(base)/admin/drain", token: token)
            if state.live != reported {
                reported = state.live
                print(state.line)
            }
        }
    }

    /// http://HOST:PORT for the daemon's http.listen; a wildcard listen is reached on loopback.
    static func baseURL(_ host: String, _ port: Int) throws -> String {
        guard port != 0 else { throw CLIError("the daemon's HTTP API is off (http.listen port 0): faxd drain needs it, or give --url") }
        let reachable = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "::1" : host
        return reachable.contains(":") ? "http://[\(reachable)]:\(port)" : "http://\(reachable):\(port)"
    }

    /// The daemon's answer: the drain state and what is still live.
    struct State {
        /// The answer's JSON, printed as it came.
        var line: String
        /// Calls plus sends still live.
        var live: Int
    }

    /// One admin request (AsyncHTTPClient, waited for: the CLI has no event loop of its own to block).
    static func call(_ method: HTTPMethod, _ url: String, token: String) throws -> State {
        var request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: url, method: method)
        } catch {
            throw CLIError("--url: '\(url)' is not an http URL such as http://127.0.0.1:8080")
        }
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response: HTTPClient.Response
        do {
            response = try HTTPClient.shared.execute(request: request, deadline: .now() + .seconds(30)).wait()
        } catch {
            throw CLIError("cannot reach the daemon at \(url): \(error) (is faxd serve running with its HTTP API there?)")
        }
        let text = response.body.map { String(buffer: $0) } ?? ""
        guard response.status == .ok else { throw CLIError("\(url) answered \(response.status.code): \(text)") }
        guard let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw CLIError("\(url) answered something other than JSON: \(text.prefix(200))")
        }
        let calls = json["active_calls"] as? Int ?? 0, sends = json["active_sends"] as? Int ?? 0
        return State(line: text, live: calls + sends)
    }
}
