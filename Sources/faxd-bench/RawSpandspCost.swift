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

    /// Runs the fax `runs` times and keeps the cheapest run (the least disturbed by other work).
    static func measure(transport: BenchTransport, document: String, options: FaxOptions, runs: Int = 3) throws -> RawSpandspCost {
        var best: RawSpandspCost?
        let scratch = NSTemporaryDirectory() + "faxd-bench-raw-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for run in 0..<runs {
            let received = "\(scratch)/raw-\(run).tif"
            let cost: RawSpandspCost
            switch transport {
            case .g711:
                let sender = try AudioFaxTerminal(job: .send(path: document), callingParty: true, options: options)
                let receiver = try AudioFaxTerminal(job: .receive(path: received), callingParty: false, options: options)
                let outcome = AudioBackToBack.run(sender: sender, receiver: receiver)
                guard outcome.receiver.result == .ok else { throw Failure.faxFailed("\(outcome.receiver.result)") }
                cost = RawSpandspCost(receiverCPUPerCallSecond: outcome.receiverCPUSeconds / outcome.seconds,
                                      senderCPUPerCallSecond: outcome.senderCPUSeconds / outcome.seconds,
                                      callSeconds: outcome.seconds, pages: outcome.receiver.pagesTransferred)
            case .t38:
                let outcome = try T38BackToBack.run(document: document, receivePath: received, options: options)
                guard outcome.receiver.result == .ok else { throw Failure.faxFailed("\(outcome.receiver.result)") }
                cost = RawSpandspCost(receiverCPUPerCallSecond: outcome.receiverCPUSeconds / outcome.seconds,
                                      senderCPUPerCallSecond: outcome.senderCPUSeconds / outcome.seconds,
                                      callSeconds: outcome.seconds, pages: outcome.receiver.pagesTransferred)
            }
            if best == nil || cost.receiverCPUPerCallSecond < best!.receiverCPUPerCallSecond { best = cost }
        }
        return best!
    }
}
