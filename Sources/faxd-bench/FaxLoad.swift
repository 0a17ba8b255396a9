import Engine
import Fax
import FaxdTesting
import Foundation
import Media
import Synchronization

enum BenchTransport: String, CaseIterable, Sendable {
    case g711, t38
}

/// What one ramp step measured.
struct StepResult {
    var calls = 0
    var answered = 0
    /// Sender outcomes with every page confirmed.
    var completed = 0
    /// Received TIFFs whose every page equals the sent page, and their pages (a fax with one bad
    /// page counts none).
    var intactFaxes = 0
    var intactPages = 0
    var pagesExpected = 0
    /// Why calls failed: "t30_name / hangup_cause" -> count.
    var failures: [String: Int] = [:]
    var wallSeconds = 0.0
    /// Seconds of answered call summed over the step's calls (answer to end, sender's clock).
    var callSeconds = 0.0
    var receiverCPUSeconds = 0.0
    var senderCPUSeconds = 0.0
    var peakChannels = 0
    var idleRSS = 0
    var peakRSS = 0
    /// Receiving daemon's tick lateness per shard over the step, then the sender's (all shards).
    var receiverLateness: [Lateness] = []
    var senderLateness = Lateness(p50: 0, p99: 0, max: 0)
    var setupRate = 0.0
    var setupP50Milliseconds = 0.0
    var setupP99Milliseconds = 0.0

    struct Lateness {
        var p50: Int, p99: Int, max: Int
        init(p50: Int, p99: Int, max: Int) { (self.p50, self.p99, self.max) = (p50, p99, max) }
        init(_ counts: LatenessHistogram.Counts) {
            self.init(p50: counts.percentileMicros(0.5), p99: counts.percentileMicros(0.99), max: counts.maxMicros)
        }
    }

    var receiverCPUPerCallSecond: Double { callSeconds > 0 ? receiverCPUSeconds / callSeconds : 0 }
    var rssPerChannel: Int { peakChannels > 0 ? max(0, peakRSS - idleRSS) / peakChannels : 0 }
}

/// Drives N concurrent faxes from an in-process sending engine into a `faxd serve` process (or a
/// peer fax server) over real SIP and RTP (or UDPTL) on 127.0.0.1, and measures the receiver.
final class FaxLoad {
    let sender: Daemon
    let receiver: any FaxReceiver
    let transport: BenchTransport
    let document: String
    let sentPages: [FaxPageImage]
    let options: FaxOptions
    /// T.38 calls start as audio and switch with the sender's re-INVITE (for receivers that take
    /// T.38 only by re-INVITE, like Asterisk's chan_sip).
    let t38ByReinvite: Bool
    /// The receiver's RSS before the first step: later steps reuse heap that glibc kept from earlier
    /// ones, so a per-step baseline would understate what a channel costs.
    let idleRSS: Int

    init(sender: Daemon, receiver: any FaxReceiver, transport: BenchTransport, document: String, options: FaxOptions,
         t38ByReinvite: Bool = false) throws {
        self.sender = sender
        self.t38ByReinvite = t38ByReinvite
        self.receiver = receiver
        self.transport = transport
        self.document = document
        self.options = options
        sentPages = try TIFFDocument(path: document).pages()
        idleRSS = receiver.probe.residentBytes() ?? 0
    }

    /// Places `calls` faxes at `rate` calls per second and waits for every outcome.
    func runStep(calls: Int, rate: Double, label: String, progress: (String) -> Void) throws -> StepResult {
        var result = StepResult()
        result.calls = calls
        result.pagesExpected = calls * sentPages.count
        receiver.clearReceived()
        let before = receiver.status()
        guard before != nil || !receiver.writesStatus, let cpuBefore = receiver.probe.cpuSeconds() else {
            throw BenchError("the receiving \(receiver.name) stopped; its log: \(receiver.logPath)\n" + tail(of: receiver.logPath))
        }
        result.idleRSS = idleRSS
        result.peakRSS = idleRSS
        let senderBefore = sender.status
        let senderCPUBefore = ProcessProbe.current.cpuSeconds() ?? 0

        let outcomes = Mutex<[FaxOutcome]>([])
        let launched = Atomic<Int>(0)
        let started = Date()
        let destination = receiver.destination
        let fax = OutboundFax(destination: destination, document: document, options: options,
                              callerID: "15557650000",
                              transport: transport == .g711 ? .g711 : t38ByReinvite ? .auto : .t38)
        let launcher = Thread { [sender] in
            for i in 0..<calls {
                // Paced on absolute deadlines so the rate holds however long a send takes.
                let due = started.addingTimeInterval(Double(i) / rate)
                let wait = due.timeIntervalSinceNow
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                var one = fax
                one.uuid = UUID().uuidString.lowercased()
                sender.orchestrator.send(one) { outcome in outcomes.withLock { $0.append(outcome) } }
                launched.add(1, ordering: .relaxed)
            }
        }
        launcher.start()

        // Every call gets four minutes after the last one started; a fax still open then has failed.
        let limit = Date().addingTimeInterval(Double(calls) / rate + 240)
        while Date() < limit {
            let done = outcomes.withLock { $0.count }
            // A peer writes no status: the sender's channels are the ones it holds.
            let channels = receiver.writesStatus ? receiver.status()?.activeChannels : sender.status.activeChannels
            let rss = receiver.probe.residentBytes() ?? 0
            if let channels { result.peakChannels = max(result.peakChannels, channels) }
            result.peakRSS = max(result.peakRSS, rss)
            progress(String(format: "%@: launched %d/%d  rx channels %d  ended %d  rx rss %.0f MB  %.0f s",
                            label, launched.load(ordering: .relaxed), calls, channels ?? 0, done,
                            Double(rss) / 1_048_576, Date().timeIntervalSince(started)))
            if done == calls { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        result.wallSeconds = Date().timeIntervalSince(started)
        guard let cpuAfter = receiver.probe.cpuSeconds() else {
            throw BenchError("the receiving \(receiver.name) died during the step; its log: \(receiver.logPath)\n" + tail(of: receiver.logPath))
        }
        result.receiverCPUSeconds = cpuAfter - cpuBefore
        result.senderCPUSeconds = (ProcessProbe.current.cpuSeconds() ?? 0) - senderCPUBefore
        // The status file is rewritten every second: wait for one written after the last call.
        var after = receiver.status()
        if let before {
            let settle = Date().addingTimeInterval(5)
            while Date() < settle {
                after = receiver.status()
                if let after, after.activeCalls == 0, after.callsEnded >= before.callsEnded + calls { break }
                Thread.sleep(forTimeInterval: 0.2)
            }
        } else {
            // A peer closes its TIFFs when it hangs up, which may be just after the sender's end.
            Thread.sleep(forTimeInterval: 3)
        }
        if let after, let before {
            result.receiverLateness = zip(after.shards, before.shards).map { a, b in
                StepResult.Lateness(a.latenessCounts.subtracting(b.latenessCounts))
            }
        }
        let senderAfter = sender.status
        let senderCounts = zip(senderAfter.shards, senderBefore.shards)
            .map { $0.latenessCounts.subtracting($1.latenessCounts) }
            .reduce(LatenessHistogram.Counts()) { $0.adding($1) }
        result.senderLateness = StepResult.Lateness(senderCounts)

        let all = outcomes.withLock { $0 }
        var setups: [Double] = []
        var failedOutcomes: [FaxOutcome] = []
        var lastAnswer = started
        for outcome in all {
            if let answered = outcome.answeredAt {
                result.answered += 1
                result.callSeconds += outcome.endedAt.timeIntervalSince(answered)
                setups.append(answered.timeIntervalSince(outcome.startedAt) * 1000)
                lastAnswer = max(lastAnswer, answered)
            }
            if outcome.success && outcome.pagesTransferred == sentPages.count {
                result.completed += 1
            } else {
                result.failures["\(outcome.t30Name) / \(outcome.hangupCause.rawValue)", default: 0] += 1
                failedOutcomes.append(outcome)
            }
        }
        if !failedOutcomes.isEmpty { saveFailed(failedOutcomes) }
        setups.sort()
        if !setups.isEmpty {
            result.setupP50Milliseconds = setups[setups.count / 2]
            result.setupP99Milliseconds = setups[min(setups.count - 1, Int(Double(setups.count) * 0.99))]
            result.setupRate = Double(setups.count) / max(0.001, lastAnswer.timeIntervalSince(started))
        }
        (result.intactFaxes, result.intactPages) = checkReceivedPages()
        receiver.clearReceived()
        return result
    }

    /// The sending side's outcomes of failed calls, one JSON line each, next to the receiver's log.
    var failedOutcomesPath: String { receiver.directory + "/failed-outcomes.jsonl" }

    private func saveFailed(_ outcomes: [FaxOutcome]) {
        let text = outcomes.map(\.jsonLine).joined(separator: "\n") + "\n"
        if let handle = FileHandle(forWritingAtPath: failedOutcomesPath) {
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            try? handle.close()
        } else {
            try? text.write(toFile: failedOutcomesPath, atomically: true, encoding: .utf8)
        }
    }

    /// Bytes of the largest decoded page of the document: what spandsp holds per call while it
    /// receives such a page.
    var pageImageBytes: Int { sentPages.map { $0.rowBytes * $0.height }.max() ?? 0 }

    /// Compares every received TIFF with the sent document, page by page, on all cores: faxes with
    /// no problem, and their pages.
    private func checkReceivedPages() -> (faxes: Int, pages: Int) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: receiver.receiveDirectory)) ?? [])
            .filter { $0.hasSuffix(".tif") }
        let intact = Atomic<Int>(0)
        let expected = sentPages
        let directory = receiver.receiveDirectory
        DispatchQueue.concurrentPerform(iterations: names.count) { i in
            if PageCheck.compare(sentPages: expected, received: directory + "/" + names[i]).isEmpty {
                intact.add(1, ordering: .relaxed)
            }
        }
        let faxes = intact.load(ordering: .relaxed)
        return (faxes, faxes * expected.count)
    }
}
