import ChildProcess
import Foundation

/// A test server from `fixtures/servers/` (an SMTP server on aiosmtpd, a webhook receiver),
/// run with Debian's python3 (which has python3-aiosmtpd; a pyenv python3 on PATH may not).
public final class ScriptServer: Sendable {
    public let process: ChildProcess

    /// Starts `fixtures/servers/<script>` with `arguments`; `waitUntilReady` waits for its "ready".
    public init(_ script: String, _ arguments: [String]) throws {
        let (path, argv) = TestChild.diesWithThisThread("/usr/bin/python3", ["-u", Fixtures.path("servers/" + script)] + arguments)
        process = try ChildProcess(path, argv, stdout: .capture, stderr: .capture)
    }

    /// True once the server printed "ready" (within `timeout` seconds).
    public func waitUntilReady(timeout: Double = 15) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if process.standardOutput.contains("ready") { return true }
            if !process.isRunning { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// What it printed (errors included).
    public var log: String { process.standardOutput + process.standardError }

    public func stop() { process.stop(grace: 0) }
}
