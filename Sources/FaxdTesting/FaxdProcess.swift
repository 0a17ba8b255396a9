import ChildProcess
import Foundation

/// The built `faxd` executable run as a real process, the way an operator runs it.
public final class FaxdProcess: Sendable {
    public let child: ChildProcess

    /// `faxd` next to the test bundle in the build directory (`swift build --build-tests` builds both).
    public static var executable: String? { sibling("faxd") }

    /// An executable of this package next to the test bundle (`faxd`, `faxd-fuzz`).
    public static func sibling(_ name: String) -> String? {
        var candidates: [URL] = []
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = argv0.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(dir.appendingPathComponent(name))
            dir.deleteLastPathComponent()
        }
        candidates.append(Fixtures.root.appendingPathComponent(".build/debug/\(name)"))
        return candidates.map(\.path).first { path in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
                && FileManager.default.isExecutableFile(atPath: path)
        }
    }

    /// Runs faxd with `arguments`. Output is captured in memory, or with `logFile` goes to that
    /// file (for a long-running daemon whose log should outlive the test).
    public init(_ arguments: [String], executable: String? = nil, logFile: String? = nil) throws {
        guard let executable = executable ?? Self.executable else {
            throw ChildProcessError("faxd executable not found next to the tests; run swift build --build-tests")
        }
        if let logFile {
            _ = FileManager.default.createFile(atPath: logFile, contents: nil)
            child = try ChildProcess(executable, arguments, stdout: .file(logFile), stderr: .file(logFile))
        } else {
            child = try ChildProcess(executable, arguments, stdout: .capture, stderr: .capture)
        }
    }

    public var pid: Int32 { child.pid }
    public var isRunning: Bool { child.isRunning }

    /// SIGTERM, then SIGKILL if it has not exited after `grace` seconds; blocks until it is gone.
    public func stop(grace: Double = 15) { child.stop(grace: grace) }

    /// Sends a signal (SIGTERM, SIGKILL).
    public func signal(_ sig: Int32) { child.signal(sig) }

    /// Waits without blocking a cooperative thread; nil when still running after `timeout` s.
    public func exit(timeout: Double) async -> Int32? { await child.exit(timeout: timeout) }

    /// Blocks until it exits; its status.
    @discardableResult
    public func waitUntilExit() -> Int32 { child.waitUntilExit() }

    /// Everything the process wrote to stdout (complete once it exited).
    public func standardOutput() -> String { child.standardOutput }

    /// Everything the process wrote to stderr (complete once it exited).
    public func standardError() -> String { child.standardError }
}

extension FaxdProcess {
    /// Runs a short faxd command (`account add`, `fax list`) to its end; throws with its output
    /// when it fails.
    @discardableResult
    public static func run(_ arguments: [String]) async throws -> String {
        let command = try FaxdProcess(arguments)
        let status = await command.exit(timeout: 30)
        return try output(of: command, arguments, status: status)
    }

    /// The synchronous half of `run`: Swift 6.3's release build crashed (LLVM's coroutine
    /// splitting, signal 11) on the throw inside the async function.
    private static func output(of command: FaxdProcess, _ arguments: [String], status: Int32?) throws -> String {
        guard status == 0 else {
            throw FaxdCommandError(description: "faxd \(arguments.joined(separator: " ")) exited \(status.map(String.init) ?? "late"): \(command.standardError())")
        }
        return command.standardOutput()
    }
}

public struct FaxdCommandError: Error, CustomStringConvertible {
    public var description: String

    /// A failure described by `description`.
    public init(description: String) { self.description = description }
}
