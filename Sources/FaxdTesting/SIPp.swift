import Foundation

/// Runs SIPp (Debian package sip-tester), a SIP stack faxd did not write, against an engine.
public enum SIPp {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
    }

    /// True when the sipp binary is installed.
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/sipp") }

    /// Runs `fixtures/sipp/<scenario>` once. Client scenarios target `target` (127.0.0.1:PORT);
    /// server scenarios (`target == nil`) listen on `localPort`.
    public static func run(scenario: String, target: String?, localPort: Int, mediaPort: Int,
                           service: String = "15551234567", transport: String = "u1", timeout: Int = 40) -> Result {
        let errorFile = Fixtures.scratchDirectory("sipp") + "/\(scenario).err"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sipp")
        var args = ["-sf", Fixtures.path("sipp/\(scenario)"), "-m", "1", "-i", "127.0.0.1", "-p", String(localPort),
                    "-mi", "127.0.0.1", "-mp", String(mediaPort), "-s", service, "-t", transport,
                    "-timeout", "\(timeout)s", "-timeout_error", "-nostdin", "-trace_err",
                    "-error_file", errorFile]
        if let target { args.append(target) }
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: Fixtures.scratchDirectory("sipp-cwd"))
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            return Result(status: -1, output: "cannot run sipp: \(error)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var output = String(decoding: data, as: UTF8.self)
        if let errors = try? String(contentsOfFile: errorFile, encoding: .utf8) {
            output += "\n--- sipp errors ---\n" + errors
        }
        return Result(status: process.terminationStatus, output: String(output.suffix(3000)))
    }
}
