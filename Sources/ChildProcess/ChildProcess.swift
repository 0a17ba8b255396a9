import Foundation
import Synchronization
private import CSpawn

/// A child process started by CShims/CSpawn (fork and exec on one spawner thread) instead of
/// Foundation's `Process`, whose `run()` in Swift 6.3 crashes now and then while it lists
/// /proc/self/fd (swift-corelibs-foundation #5472) and which leaves non-close-on-exec descriptors
/// (sofia's sockets) open in the child. The child gets only stdin/stdout/stderr, and dies with
/// this process (PR_SET_PDEATHSIG SIGKILL): kill -9 of faxd leaves no Ghostscript running.
public final class ChildProcess: Sendable {
    /// Where a child's output goes.
    public enum Output: Sendable {
        /// /dev/null.
        case discard
        /// Appended to this file (created if needed): for long-running children, whose full pipe would block them.
        case file(String)
        /// Captured in memory by a reader thread; read it with `standardOutput` / `standardError`.
        case capture
    }

    public let pid: Int32
    public let executable: String
    private let status = Mutex<Int32?>(nil)
    private let captured: [Capture?]

    /// Starts `executable` (a path; a bare name is looked up on PATH) with `arguments`.
    /// `environment` nil passes this process's environment on; a dictionary passes only that
    /// (untrusted work such as Ghostscript on an uploaded PDF gets no secrets from ours).
    public init(_ executable: String, _ arguments: [String], stdout: Output = .discard, stderr: Output = .discard,
                workingDirectory: String? = nil, environment: [String: String]? = nil) throws(ChildProcessError) {
        guard let path = Self.resolve(executable) else { throw ChildProcessError("\(executable): not found on PATH") }
        self.executable = path
        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        var captures: [Capture?] = []
        defer { childEnds.forEach { if $0 >= 0 { close($0) } } }
        for output in [stdout, stderr] {
            switch output {
            case .discard:
                childEnds.append(-1)
                captures.append(nil)
            case .file(let file):
                let fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
                guard fd >= 0 else {
                    parentEnds.forEach { close($0) }
                    throw ChildProcessError("\(file): cannot open for the child's output (\(String(cString: strerror(errno))))") }
                childEnds.append(fd)
                captures.append(nil)
            case .capture:
                var fds: [Int32] = [0, 0]
                // Close-on-exec is not needed for the child's sake (the spawn closes everything above
                // 2), but keeps Foundation-spawned processes elsewhere from inheriting the pipe.
                guard pipe(&fds) == 0 else { throw ChildProcessError("pipe: \(String(cString: strerror(errno)))") }
                _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
                _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
                childEnds.append(fds[1])
                parentEnds.append(fds[0])
                captures.append(Capture(fd: fds[0]))
            }
        }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { envp?.forEach { free($0) } }
        var child: pid_t = 0
        let rc = argv.withUnsafeBufferPointer { args in
            if let envp {
                return envp.withUnsafeBufferPointer { env in
                    cspawn_start(path, args.baseAddress, env.baseAddress, -1, childEnds[0], childEnds[1], workingDirectory, &child)
                }
            }
            return cspawn_start(path, args.baseAddress, cspawn_environment(), -1, childEnds[0], childEnds[1], workingDirectory, &child)
        }
        guard rc == 0 else {
            parentEnds.forEach { close($0) }
            throw ChildProcessError("\(path): cannot start (\(String(cString: strerror(rc))))")
        }
        pid = child
        captured = captures
        captures.forEach { $0?.start() }
    }

    /// True until the child has exited (and reaps it then).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// Exit status: the exit code, or 128 + the signal that ended it; nil while running.
    public var terminationStatus: Int32? { reap(blocking: false) }

    /// Blocks until the child exits; returns its status.
    @discardableResult
    public func waitUntilExit() -> Int32 { reap(blocking: true) ?? -1 }

    /// Waits without blocking a cooperative thread; nil when it is still running after `timeout` s.
    public func exit(timeout: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = reap(blocking: false) { return status }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return reap(blocking: false)
    }

    /// Sends `signal` (SIGTERM, SIGKILL) unless the child is gone.
    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; blocks until the child is gone.
    public func stop(grace: Double = 15) {
        signal(SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while isRunning && Date() < deadline { usleep(20_000) }
        signal(SIGKILL)
        waitUntilExit()
    }

    /// What the child wrote to stdout so far (`.capture` only); after exit, all of it.
    public var standardOutput: String { captured[0]?.text ?? "" }
    /// What the child wrote to stderr so far (`.capture` only).
    public var standardError: String { captured[1]?.text ?? "" }

    /// Runs to the end and returns status and captured output.
    public static func run(_ executable: String, _ arguments: [String], workingDirectory: String? = nil,
                           environment: [String: String]? = nil) throws(ChildProcessError)
        -> (status: Int32, stdout: String, stderr: String) {
        let child = try ChildProcess(executable, arguments, stdout: .capture, stderr: .capture, workingDirectory: workingDirectory,
                                     environment: environment)
        let status = child.waitUntilExit()
        return (status, child.standardOutput, child.standardError)
    }

    deinit {
        if reap(blocking: false) == nil {
            kill(pid, SIGKILL)
            _ = reap(blocking: true)
        }
    }

    private func reap(blocking: Bool) -> Int32? {
        if let known = status.withLock({ $0 }) { return known }
        var raw: Int32 = 0
        let result = waitpid(pid, &raw, blocking ? 0 : WNOHANG)
        guard result == pid else {
            if result < 0 && errno == ECHILD { return status.withLock { $0 } ?? -1 }
            return nil
        }
        let code = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        status.withLock { $0 = code }
        captured.forEach { $0?.finish() }
        return code
    }

    /// A minimal environment for tools faxd runs on untrusted input: PATH, a C locale, TMPDIR.
    public static var minimalEnvironment: [String: String] {
        let env = ProcessInfo.processInfo.environment
        return ["PATH": env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", "LANG": "C", "TMPDIR": env["TMPDIR"] ?? "/tmp"]
    }

    private static func resolve(_ executable: String) -> String? {
        if executable.contains("/") { return access(executable, X_OK) == 0 ? executable : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(executable)" }.first { access($0, X_OK) == 0 }
    }

    /// Reads one pipe to EOF on a thread of its own.
    final class Capture: Sendable {
        let fd: Int32
        private let bytes = Mutex<[UInt8]>([])
        private let done = DispatchSemaphore(value: 0)

        init(fd: Int32) { self.fd = fd }

        func start() {
            let thread = Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n > 0 {
                        bytes.withLock { $0.append(contentsOf: buffer[0..<n]) }
                    } else if n < 0 && errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
                close(fd)
                done.signal()
            }
            thread.start()
        }

        /// Waits (briefly) for the reader to reach EOF after the child exited.
        func finish() {
            if done.wait(timeout: .now() + 2) == .success { done.signal() }
        }

        var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
    }
}

/// A child process that could not be started, with the reason.
public struct ChildProcessError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
