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
    var errors: String = ""
}

enum SIPLoad {
    static func run(receiverSIPPort: Int, rate: Int, calls: Int, localPort: Int, mediaPort: Int) throws -> SIPLoadResult {
        let directory = Fixtures.scratchDirectory("bench-sipp")
        let statFile = directory + "/stat.csv"
        let run = SIPp.run(scenario: "uac_load.xml", target: "127.0.0.1:\(receiverSIPPort)", localPort: localPort,
                           mediaPort: mediaPort, service: "15551230000", calls: calls, rate: rate,
                           timeout: calls / max(rate, 1) + 60,
                           extraArguments: ["-trace_stat", "-stf", statFile, "-fd", "1"], workingDirectory: directory)
        guard let csv = try? String(contentsOfFile: statFile, encoding: .utf8) else {
            throw BenchError("SIPp wrote no statistics (exit \(run.status)): \(run.output)")
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
        if let errors = run.output.range(of: "--- sipp errors ---") {
            result.errors = String(run.output[errors.upperBound...].prefix(2000))
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
