import FaxdTesting
import Foundation

/// Signalling load with SIPp (fixtures/sipp/uac_load.xml: INVITE, 200, ACK, 200 ms, BYE, no fax)
/// against a fresh `faxd serve`; figures come from SIPp's own statistics file.
struct SIPLoadResult {
    var attempted = 0
    var successful = 0
    var failed = 0
    var retransmissions = 0
    var unexpectedMessages = 0
    var callRate = 0.0
    var elapsedSeconds = 0.0
    var responseTimeMilliseconds = ""
    var errors: String = ""
}

enum SIPLoad {
    static func run(receiverSIPPort: Int, rate: Int, calls: Int, localPort: Int, mediaPort: Int) throws -> SIPLoadResult {
        let directory = NSTemporaryDirectory() + "faxd-bench-sipp-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let statFile = directory + "/stat.csv"
        let errorFile = directory + "/errors.log"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sipp")
        process.arguments = ["-sf", Fixtures.path("sipp/uac_load.xml"), "-r", String(rate), "-m", String(calls),
                             "-l", String(max(rate * 2, 100)), "-i", "127.0.0.1", "-p", String(localPort),
                             "-mi", "127.0.0.1", "-mp", String(mediaPort), "-s", "15551230000", "-t", "u1",
                             "-trace_stat", "-stf", statFile, "-fd", "1", "-trace_err", "-error_file", errorFile,
                             "-nostdin", "-timeout", "\(calls / max(rate, 1) + 60)s",
                             "127.0.0.1:\(receiverSIPPort)"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = out
        process.standardError = out
        try process.run()
        process.waitUntilExit()
        guard let csv = try? String(contentsOfFile: statFile, encoding: .utf8) else {
            throw BenchError("SIPp wrote no statistics (exit \(process.terminationStatus))")
        }
        let lines = csv.split(separator: "\n")
        guard lines.count >= 2 else { throw BenchError("SIPp statistics file is empty") }
        let header = lines[0].split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        let last = lines[lines.count - 1].split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        func field(_ name: String) -> String {
            guard let i = header.firstIndex(of: name), i < last.count else { return "" }
            return last[i]
        }
        var result = SIPLoadResult()
        result.attempted = Int(field("OutgoingCall(C)")) ?? 0
        result.successful = Int(field("SuccessfulCall(C)")) ?? 0
        result.failed = Int(field("FailedCall(C)")) ?? 0
        result.retransmissions = Int(field("Retransmissions(C)")) ?? 0
        result.unexpectedMessages = Int(field("FailedUnexpectedMessage(C)")) ?? 0
        result.callRate = Double(field("CallRate(C)")) ?? 0
        result.elapsedSeconds = parseElapsed(field("ElapsedTime(C)"))
        result.responseTimeMilliseconds = field("ResponseTime1(C)")
        if let errors = try? String(contentsOfFile: errorFile, encoding: .utf8) {
            result.errors = String(errors.prefix(2000))
        }
        return result
    }

    /// "00:00:10:123456" or "00:00:10" (SIPp's hh:mm:ss[:usec]) to seconds.
    static func parseElapsed(_ text: String) -> Double {
        let parts = text.split(separator: ":").compactMap { Double($0) }
        guard parts.count >= 3 else { return 0 }
        return parts[0] * 3600 + parts[1] * 60 + parts[2] + (parts.count > 3 ? parts[3] / 1e6 : 0)
    }
}
