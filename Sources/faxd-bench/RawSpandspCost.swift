import Fax
import FaxdTesting
import Foundation

/// The cost of the fax itself: spandsp's terminals back to back in this process on the same
/// document, no sockets, no clock, measured with the thread CPU clock. The load benchmark divides
/// the receiving daemon's CPU per call-second by the receiving terminal's figure here.
struct RawSpandspCost {
    /// CPU seconds the receiving terminal (and for T.38 its UDPTL decoding) took per second of call.
    var receiverCPUPerCallSecond: Double
    var senderCPUPerCallSecond: Double
    /// Simulated call length of one fax.
    var callSeconds: Double
    var pages: Int

    enum Failure: Error, CustomStringConvertible {
        case faxFailed(String)
        var description: String {
            switch self { case .faxFailed(let why): "raw spandsp run failed: \(why)" }
        }
    }

    /// Runs the fax `runs` times untimed (the whole run's thread CPU, read twice) and `runs` times
    /// with each side timed (four clock reads per 20 ms step, which would inflate the figure by
    /// itself); the receiving side's cost is the cheapest untimed total times the receiving
    /// side's mean share from the timed runs.
    /// spandsp reads the pages it sends and writes the pages it receives itself here (as it did in
    /// faxd before issue 20): the daemon does that work on utility threads now, which its process
    /// CPU still counts, so the raw figure must count it too.
    static func measure(transport: BenchTransport, document: String, options: FaxOptions, runs: Int = 3) throws -> RawSpandspCost {
        var options = options
        options.receivedPagesWrittenBySpanDSP = true
        options.sentPagesReadBySpanDSP = true
        let scratch = Fixtures.scratchDirectory("raw-spandsp")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var total = Double.infinity
        var shares: [Double] = []
        var callSeconds = 0.0
        var pages = 0
        for run in 0..<(2 * runs) {
            let timed = run % 2 == 1
            let received = "\(scratch)/raw-\(run).tif"
            let cpu, sender, receiver, seconds: Double
            let result: FaxTransferResult
            switch transport {
            case .g711:
                let tx = try AudioFaxTerminal(job: .send(path: document), callingParty: true, options: options)
                let rx = try AudioFaxTerminal(job: .receive(path: received), callingParty: false, options: options)
                let outcome = AudioBackToBack.run(sender: tx, receiver: rx, timeSides: timed)
                (cpu, sender, receiver, seconds, result) = (outcome.cpuSeconds, outcome.senderCPUSeconds,
                                                            outcome.receiverCPUSeconds, outcome.seconds, outcome.receiver)
            case .t38:
                let outcome = try T38BackToBack.run(document: document, receivePath: received, options: options, timeSides: timed)
                (cpu, sender, receiver, seconds, result) = (outcome.cpuSeconds, outcome.senderCPUSeconds,
                                                            outcome.receiverCPUSeconds, outcome.seconds, outcome.receiver)
            }
            guard result.result == .ok else { throw Failure.faxFailed("\(result.result)") }
            if timed {
                shares.append(receiver / (sender + receiver))
            } else {
                total = min(total, cpu / seconds)
            }
            callSeconds = seconds
            pages = result.pagesTransferred
        }
        let receiverShare = shares.reduce(0, +) / Double(shares.count)
        return RawSpandspCost(receiverCPUPerCallSecond: total * receiverShare,
                              senderCPUPerCallSecond: total * (1 - receiverShare),
                              callSeconds: callSeconds, pages: pages)
    }
}
