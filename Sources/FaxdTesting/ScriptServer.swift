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

    /// True once the server printed "ready"; false when it exited first or `timeout` seconds
    /// passed. The bound is generous on purpose: a fresh clone's suite shares two cores with the
    /// build of everything else, and a Python start then took over 15 s (issue 18); a healthy
    /// server answers in well under a second, and one that died is seen at once.
    public func waitUntilReady(timeout: Double = 180) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if process.standardOutput.contains("ready") { return true }
            if !process.isRunning { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// What it printed (errors included), and its exit status once it exited: what a failed
    /// readiness wait reports.
    public var log: String {
        let status = process.terminationStatus.map { " [exited with status \($0)]" } ?? " [still running]"
        return "stdout: " + process.standardOutput + " stderr: " + process.standardError + status
    }

    public func stop() { process.stop(grace: 0) }
}
