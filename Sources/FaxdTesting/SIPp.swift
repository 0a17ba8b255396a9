import ChildProcess
import Foundation
import Synchronization

/// Runs SIPp (Debian package sip-tester), a SIP stack faxd did not write, against an engine.
public enum SIPp {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
    }

    /// Runs SIPp on a thread of its own so an async test never blocks the cooperative pool
    /// (a blocked pool cannot run the code that sends SIPp its request: deadlock).
    public static func start(scenario: String, target: String?, localPort: Int, mediaPort: Int,
                             transport: String = "u1", calls: Int = 1, rate: Int? = nil, timeout: Int = 40) async -> Result {
        await launch(scenario: scenario, target: target, localPort: localPort, mediaPort: mediaPort,
                     transport: transport, calls: calls, rate: rate, timeout: timeout).result()
    }

    /// Starts SIPp now, on a thread of its own, and returns at once. For server scenarios: an
    /// `async let` would start it only when the cooperative pool gets round to the child task,
    /// which on a loaded 2-core machine took more than 10 s.
    public static func launch(scenario: String, target: String?, localPort: Int, mediaPort: Int,
                              service: String = "15551234567", transport: String = "u1", calls: Int = 1, rate: Int? = nil,
                              timeout: Int = 40, extraArguments: [String] = []) -> Running {
        let running = Running()
        let thread = Thread {
            running.finish(run(scenario: scenario, target: target, localPort: localPort, mediaPort: mediaPort, service: service,
                               transport: transport, calls: calls, rate: rate, timeout: timeout, extraArguments: extraArguments))
        }
        thread.start()
        return running
    }

    /// A SIPp run in progress; `result()` waits for it without blocking a cooperative thread.
    public final class Running: Sendable {
        private let state = Mutex<(result: Result?, waiter: CheckedContinuation<Result, Never>?)>((nil, nil))

        fileprivate func finish(_ result: Result) {
            let waiter = state.withLock { s -> CheckedContinuation<Result, Never>? in
                s.result = result
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(returning: result)
        }

        /// The result if SIPp has ended; nil while it runs (for a failure message).
        public var finished: Result? { state.withLock { $0.result } }

        /// Why SIPp is not listening, for a failure message: its output when it has ended.
        public var whyNotListening: String {
            finished.map { "SIPp ended (exit \($0.status)): \($0.output.suffix(1200))" } ?? "SIPp is still running"
        }

        public func result() async -> Result {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { s -> Result? in
                    if s.result == nil { s.waiter = continuation }
                    return s.result
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }

    /// True when the sipp binary is installed.
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/sipp") }

    /// Runs `fixtures/sipp/<scenario>` once. Client scenarios target `target` (127.0.0.1:PORT);
    /// server scenarios (`target == nil`) listen on `localPort`.
    /// `calls` scenarios in all, started `rate` per second (SIPp's default pace without it).
    public static func run(scenario: String, target: String?, localPort: Int, mediaPort: Int,
                           service: String = "15551234567", transport: String = "u1", calls: Int = 1,
                           rate: Int? = nil, timeout: Int = 40, extraArguments: [String] = [],
                           workingDirectory: String? = nil) -> Result {
        let errorFile = Fixtures.scratchDirectory("sipp") + "/\(scenario).err"
        let output = Fixtures.scratchDirectory("sipp-out") + "/\(scenario).log"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        var args = ["-sf", Fixtures.path("sipp/\(scenario)"), "-m", String(calls), "-i", "127.0.0.1", "-p", String(localPort),
                    "-mi", "127.0.0.1", "-mp", String(mediaPort), "-s", service, "-t", transport,
                    "-timeout", "\(timeout)s", "-timeout_error", "-nostdin", "-trace_err",
                    "-error_file", errorFile]
        if let rate { args += ["-r", String(rate), "-l", String(max(rate * 2, 10))] }
        args += extraArguments
        if let target { args.append(target) }
        // A file, not a pipe: a full pipe would block SIPp.
        let process: ChildProcess
        do {
            let (path, arguments) = TestChild.diesWithThisThread("/usr/bin/sipp", args)
            process = try ChildProcess(path, arguments, stdout: .file(output), stderr: .file(output),
                                       workingDirectory: workingDirectory ?? Fixtures.scratchDirectory("sipp-cwd"))
        } catch {
            return Result(status: -1, output: "cannot run sipp: \(error)")
        }
        // SIPp's own -timeout does not fire while a server scenario waits for its first request.
        let deadline = Date().addingTimeInterval(Double(timeout) + 5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        process.stop(grace: 2)
        var text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        if let errors = try? String(contentsOfFile: errorFile, encoding: .utf8) {
            text += "\n--- sipp errors ---\n" + errors
        }
        return Result(status: process.terminationStatus ?? -1, output: String(text.suffix(3000)))
    }
}
