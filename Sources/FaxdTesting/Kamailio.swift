import ChildProcess
import Foundation

/// Kamailio (Debian package kamailio) in front of faxd nodes, run from the shipped
/// conf/kamailio/kamailio.cfg with only its #!defines replaced on the command line (-A): its
/// port, a dispatcher list of the nodes, the probe interval. Logs to a file the test reads.
public final class Kamailio: Sendable {
    public let port: Int
    /// Kamailio's stderr (its log, -E).
    public let logFile: String
    private let child: ChildProcess

    /// The kamailio binary, nil when the package is not installed.
    public static var executable: String? {
        ["/usr/sbin/kamailio", "/usr/local/sbin/kamailio"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts Kamailio on UDP and TCP 127.0.0.1:`port` dispatching to faxd nodes on 127.0.0.1:`nodes`,
    /// probing them every `pingInterval` s.
    /// `nodeTimeoutMilliseconds`: how long a node may take to answer an INVITE (or a probe) at all
    /// before it is taken for down (the configuration's NODE_TIMEOUT_MS; nil keeps its 3 s).
    public init(port: Int, nodes: [Int], pingInterval: Int = 1, nodeTimeoutMilliseconds: Int? = nil) throws {
        guard let executable = Self.executable else { throw ChildProcessError("kamailio is not installed (scripts/setup installs it)") }
        let directory = Fixtures.scratchDirectory("kamailio")
        let list = directory + "/dispatcher.list"
        try nodes.map { "1 sip:127.0.0.1:\($0) 0 0\n" }.joined().write(toFile: list, atomically: true, encoding: .utf8)
        self.port = port
        logFile = directory + "/kamailio.log"
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let config = Fixtures.root.appendingPathComponent("conf/kamailio/kamailio.cfg").path
        // -DD: no daemon, -E: log to stderr; small memory pools; 2 workers per listener (2 cores).
        child = try ChildProcess(executable, ["-DD", "-E", "-f", config, "-Y", directory, "-w", directory, "-m", "64", "-M", "8", "-n", "2",
                                              "-A", "LISTEN_UDP=udp:127.0.0.1:\(port)", "-A", "LISTEN_TCP=tcp:127.0.0.1:\(port)",
                                              "-A", "DISPATCHER_LIST=\"\(list)\"", "-A", "PING_INTERVAL=\(pingInterval)"]
                                              + (nodeTimeoutMilliseconds.map { ["-A", "NODE_TIMEOUT_MS=\($0)"] } ?? []),
                                 stdout: .file(logFile), stderr: .file(logFile))
    }

    /// Kamailio's log so far.
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// True once Kamailio listens and answers its own OPTIONS keepalive 200 (within `timeout` s).
    public func ready(timeout: Double = 120) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        guard await TestPorts.waitUntilBound(udpPort: port, timeout: timeout) else { return false }
        while Date() < deadline && child.isRunning {
            if let answer = try? await SIPDialogCaller.options(to: port, wait: 2), SIPWire.statuses(answer).first == 200 { return true }
        }
        return false
    }

    /// Waits until a log line contains every one of `parts` (at most `timeout` s).
    public func waitForLog(_ parts: [String], timeout: Double = 60) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.split(separator: "\n").contains(where: { line in parts.allSatisfy { line.contains($0) } }) { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// SIGTERM (Kamailio ends its workers), SIGKILL after 5 s.
    public func stop() { child.stop(grace: 5) }
}
