import Foundation
import Synchronization

/// A test server from `fixtures/servers/` (an SMTP server on aiosmtpd, a webhook receiver),
/// run with Debian's python3 (which has python3-aiosmtpd; a pyenv python3 on PATH may not).
public final class ScriptServer: Sendable {
    public let process: Process
    private let ready = Mutex(false)
    private let output = Mutex("")

    /// Starts `fixtures/servers/<script>` with `arguments`; `waitUntilReady` waits for its "ready".
    public init(_ script: String, _ arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-u", Fixtures.path("servers/" + script)] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let handle = pipe.fileHandleForReading
        let thread = Thread { [weak self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                let text = String(decoding: data, as: UTF8.self)
                guard let self else { break }
                output.withLock { $0 += text }
                if text.contains("ready") { ready.withLock { $0 = true } }
            }
        }
        thread.start()
    }

    /// True once the server printed "ready" (within `timeout` seconds).
    public func waitUntilReady(timeout: Double = 15) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if ready.withLock({ $0 }) { return true }
            if !process.isRunning { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// What it printed (errors included).
    public var log: String { output.withLock { $0 } }

    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}
