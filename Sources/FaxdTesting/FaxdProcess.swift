import Foundation

/// The built `faxd` executable run as a real process, the way an operator runs it.
public final class FaxdProcess: @unchecked Sendable {
    public let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()

    /// `faxd` next to the test bundle in the build directory (`swift build --build-tests` builds both).
    public static var executable: String? {
        var candidates: [URL] = []
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = argv0.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(dir.appendingPathComponent("faxd"))
            dir.deleteLastPathComponent()
        }
        candidates.append(Fixtures.root.appendingPathComponent(".build/debug/faxd"))
        return candidates.map(\.path).first { path in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
                && FileManager.default.isExecutableFile(atPath: path)
        }
    }

    /// Runs faxd with `arguments`. Output goes to pipes read after exit, or with `logFile` to that
    /// file (for a long-running daemon: a full pipe would block its logging).
    public init(_ arguments: [String], executable: String? = nil, logFile: String? = nil) throws {
        guard let executable = executable ?? Self.executable else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "faxd executable not found next to the tests; run swift build --build-tests"])
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let logFile {
            _ = FileManager.default.createFile(atPath: logFile, contents: nil)
            let log = FileHandle(forWritingAtPath: logFile)
            process.standardOutput = log
            process.standardError = log
        } else {
            process.standardOutput = stdoutPipe
            process.standardError = stderrPipe
        }
        try process.run()
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace` seconds; blocks until it is gone.
    public func stop(grace: Double = 15) {
        process.stop(grace: grace)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Sends a signal (SIGTERM, SIGKILL).
    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// The async form: polls without blocking a cooperative thread.
    public func exit(timeout: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }

    /// Everything the process wrote to stdout (call after it exited).
    public func standardOutput() -> String {
        String(decoding: stdoutPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Everything the process wrote to stderr (call after it exited).
    public func standardError() -> String {
        String(decoding: stderrPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}

extension Process {
    /// SIGTERM, then SIGKILL after `grace` seconds; blocks until the process is gone.
    func stop(grace: Double) {
        guard isRunning else { return }
        terminate()
        let deadline = Date().addingTimeInterval(grace)
        while isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if isRunning { kill(processIdentifier, SIGKILL) }
        waitUntilExit()
    }
}

extension FaxdProcess {
    /// Runs a short faxd command (`account add`, `fax list`) to its end; throws with its output
    /// when it fails.
    @discardableResult
    public static func run(_ arguments: [String]) async throws -> String {
        let command = try FaxdProcess(arguments)
        let status = await command.exit(timeout: 30)
        guard status == 0 else {
            throw FaxdCommandError(description: "faxd \(arguments.joined(separator: " ")) exited \(status.map(String.init) ?? "late"): \(command.standardError())")
        }
        return command.standardOutput()
    }
}

public struct FaxdCommandError: Error, CustomStringConvertible {
    public var description: String
}
