import Foundation

/// The benchmark's printed figures.
enum Report {
    static func ms(_ micros: Int) -> String { String(format: "%.1f", Double(micros) / 1000) }

    static func lateness(_ l: StepResult.Lateness) -> String { "\(ms(l.p50))/\(ms(l.p99))/\(ms(l.max))" }

    /// One line per step while the benchmark runs.
    static func stepLine(_ r: StepResult, raw: RawSpandspCost) -> String {
        let ratio = r.receiverCPUPerCallSecond / raw.receiverCPUPerCallSecond
        var line = String(format: "%d calls: %d answered, %d completed, %d/%d pages intact, rx CPU %.2f s for %.0f call-s (%.3f ms/call-s, %.2fx raw), tx CPU %.2f s, peak %d channels, %.0f KB RSS/channel, %.0f setups/s, %.0f s",
                          r.calls, r.answered, r.completed, r.intactPages, r.pagesExpected, r.receiverCPUSeconds,
                          r.callSeconds, r.receiverCPUPerCallSecond * 1000, ratio, r.senderCPUSeconds, r.peakChannels,
                          Double(r.rssPerChannel) / 1024, r.setupRate, r.wallSeconds)
        if !r.failures.isEmpty {
            line += "\n  failures: " + r.failures.sorted { $0.value > $1.value }.map { "\($0.value)x \($0.key)" }.joined(separator: ", ")
        }
        return line
    }

    /// The Markdown table the README's Performance section quotes; with `receiver` (a peer's
    /// name), a first column names it: the peer and faxd rows go into one table.
    static func table(_ results: [StepResult], raw: RawSpandspCost, receiver: String? = nil) -> String {
        var lines = [
            "| calls | completed | pages intact | rx CPU ms per call-s | raw spandsp ms per call-s | ratio | rx tick lateness p50/p99/max ms per shard | tx lateness p99/max ms | RSS per channel | setups/s (p50/p99 ms) |",
            "|---:|---:|---:|---:|---:|---:|---|---|---:|---|",
        ]
        for r in results {
            let ratio = r.receiverCPUPerCallSecond / raw.receiverCPUPerCallSecond
            // A peer reports no tick lateness.
            let shards = r.receiverLateness.isEmpty ? "n/a" : r.receiverLateness.map(lateness).joined(separator: " · ")
            lines.append(String(format: "| %d | %d | %d/%d | %.3f | %.3f | %.2f | %@ | %@/%@ | %.0f KB | %.0f (%.0f/%.0f) |",
                                r.calls, r.completed, r.intactPages, r.pagesExpected, r.receiverCPUPerCallSecond * 1000,
                                raw.receiverCPUPerCallSecond * 1000, ratio, shards, ms(r.senderLateness.p99),
                                ms(r.senderLateness.max), Double(r.rssPerChannel) / 1024, r.setupRate,
                                r.setupP50Milliseconds, r.setupP99Milliseconds))
        }
        if let receiver {
            lines = lines.enumerated().map { i, line in
                "| " + (i == 0 ? "receiver" : i == 1 ? "---" : receiver) + " " + line
            }
        }
        return lines.joined(separator: "\n")
    }

    static func sipTable(_ r: SIPLoadResult, receiverCPU: Double) -> String {
        """
        | attempted | successful | failed | unexpected messages | retransmissions | achieved calls/s | elapsed s | faxd CPU s |
        |---:|---:|---:|---:|---:|---:|---:|---:|
        | \(r.attempted) | \(r.successful) | \(r.failed) | \(r.unexpectedMessages) | \(r.retransmissions) | \(String(format: "%.1f", r.callRate)) | \(String(format: "%.1f", r.elapsedSeconds)) | \(String(format: "%.2f", receiverCPU)) |
        """
    }
}
