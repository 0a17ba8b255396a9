import Engine
import Fax
import FaxdTesting
import Foundation
import SIP
import Testing

/// T.38 between two engines over 127.0.0.1 in every negotiation path, checked page by page.
@Suite struct T38EndToEndTests {
    enum Path: String, CaseIterable {
        case receiverAsks, senderAsks, initialInvite, refusedStaysInAudio
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var path: Path
        var ecm: Bool
        var testDescription: String { "\(path.rawValue) ecm=\(ecm)" }
    }

    static let cases = [Case(path: .receiverAsks, ecm: true), Case(path: .receiverAsks, ecm: false),
                        Case(path: .senderAsks, ecm: true), Case(path: .senderAsks, ecm: false),
                        Case(path: .initialInvite, ecm: true), Case(path: .refusedStaysInAudio, ecm: true)]

    @Test(arguments: cases)
    func faxArrivesIntact(_ c: Case) async throws {
        let receiver = try TestEngine(label: "t38-rx") {
            switch c.path {
            case .receiverAsks: $0.trunks[0].t38 = .request
            case .refusedStaysInAudio: $0.trunks[0].t38 = .off
            default: $0.trunks[0].t38 = .accept
            }
            // Long enough that only the sender's CNG can trigger the receiver's request in time.
            $0.t38.requestDelayMilliseconds = 8000
        }
        let sender = try TestEngine(label: "t38-tx")
        defer {
            sender.stop()
            receiver.stop()
        }
        var options = sender.daemon.configuration.fax.options
        options.ecm = c.ecm
        let transport: OutboundFax.Transport? = switch c.path {
        case .receiverAsks: nil
        case .senderAsks, .refusedStaysInAudio: .auto
        case .initialInvite: .t38
        }
        let outcome = try #require(await sender.send(OutboundFax(destination: receiver.uri(number: "15551234567"),
                                                                  document: Fixtures.threePageFine, options: options,
                                                                  transport: transport)))
        let received = try #require(await receiver.outcomes.next(count: 1, timeout: 30).first)
        #expect(outcome.success && received.success, "\(outcome.t30Name) / \(received.t30Name) \(received.detail ?? "")")
        #expect(received.pagesTransferred == 3 && outcome.pagesTransferred == 3)
        #expect(outcome.ecm == c.ecm)
        switch c.path {
        case .refusedStaysInAudio:
            #expect(outcome.transport == "g711" && received.transport == "g711")
            #expect(outcome.t38Refused?.hasPrefix("488") == true, "\(outcome.t38Refused ?? "-")")
        case .receiverAsks:
            #expect(outcome.transport == "t38" && received.transport == "t38")
            #expect(received.t38?.requestedBy == "local" && outcome.t38?.requestedBy == "remote")
            #expect(received.t38?.trigger == "CNG", "\(received.t38?.trigger ?? "-")")
            #expect(received.cngDetected, "the CNG heard in audio is kept after the switch")
            let answer = try #require(received.t38?.answerMilliseconds)
            #expect(answer <= 100, "the sender answered our T.38 re-INVITE in \(answer) ms")
        case .senderAsks:
            #expect(outcome.transport == "t38" && received.transport == "t38")
            #expect(outcome.t38?.requestedBy == "local" && received.t38?.requestedBy == "remote")
            let answer = try #require(outcome.t38?.answerMilliseconds)
            #expect(answer <= 100, "the receiver answered our T.38 re-INVITE in \(answer) ms")
            print("T.38 re-INVITE answered by faxd in \(answer) ms")
        case .initialInvite:
            #expect(outcome.transport == "t38" && received.transport == "t38")
            #expect(outcome.t38?.requestedBy == "offer" && received.t38?.requestedBy == "offer")
        }
        if c.path != .refusedStaysInAudio {
            #expect(outcome.t38?.errorCorrection == "t38UDPRedundancy")
        }
        #expect(PageCheck.compare(sent: Fixtures.threePageFine, received: try #require(received.file)) == [])
    }

    /// Both engines behind UDP relays dropping 5% of media datagrams each way: with UDPTL
    /// redundancy 3, every fax must complete.
    @Test(arguments: 1...10)
    func t38SurvivesFivePercentLoss(seed: Int) async throws {
        let (outcome, received, relays) = try await Self.impairedFax(seed: seed, loss: 0.05, transport: .t38)
        #expect(outcome.success && received.pagesTransferred == 3,
                "seed \(seed): \(outcome.t30Name) / \(received.t30Name), relay dropped \(relays.dropped) of \(relays.total)")
        #expect(relays.dropped > 0)
        #expect(outcome.transport == "t38")
        #expect(PageCheck.compare(sent: Fixtures.threePageFine, received: try #require(received.file)) == [])
    }

    /// G.711 through the same relays at 0.5% loss each way: lost packets reach spandsp as fill-in.
    /// spandsp 0.0.6 completes about 12 in 20 faxes at this rate (FillInTests), so completion is
    /// reported, not required; what is required is that every call ends with a T.30 result and
    /// that the loss really reached the jitter buffer as missing frames.
    @Test func g711WithHalfAPercentLoss() async throws {
        let results = try await withThrowingTaskGroup(of: (FaxOutcome, FaxOutcome).self) { group in
            for seed in 1...6 {
                group.addTask {
                    let (outcome, received, _) = try await Self.impairedFax(seed: 100 + seed, loss: 0.005, transport: .g711)
                    return (outcome, received)
                }
            }
            return try await group.reduce(into: [(FaxOutcome, FaxOutcome)]()) { $0.append($1) }
        }
        let completed = results.filter { $0.0.success && $0.1.pagesTransferred == 3 }.count
        let lossFrames = results.map { $0.1.media?.lateOrLost20ms ?? 0 }
        print("G.711 through relays with 0.5% loss each way: \(completed)/\(results.count) faxes completed; receiver frames with loss \(lossFrames); T.30 \(results.map { $0.1.t30Code })")
        #expect(results.count == 6)
        #expect(lossFrames.allSatisfy { $0 > 0 })
        #expect(results.allSatisfy { [.faxComplete, .remoteHangup].contains($0.1.hangupCause) }, "\(results.map { "\($0.1.hangupCause) \($0.1.detail ?? "")" })")
    }

    static func impairedFax(seed: Int, loss: Double, transport: OutboundFax.Transport) async throws
        -> (FaxOutcome, FaxOutcome, (dropped: Int, total: Int)) {
        let receiver = try TestEngine(label: "loss-rx") { $0.sip.publicAddress = "127.0.0.2" }
        let sender = try TestEngine(label: "loss-tx") { $0.sip.publicAddress = "127.0.0.3" }
        let rxRelay = try UDPRelay(frontHost: "127.0.0.2", sipPort: UInt16(receiver.sipPort), mediaPorts: receiver.mediaPorts,
                                   lossRate: loss, seed: UInt64(seed))
        let txRelay = try UDPRelay(frontHost: "127.0.0.3", sipPort: UInt16(sender.sipPort), mediaPorts: sender.mediaPorts,
                                   lossRate: loss, seed: UInt64(seed) &+ 1000)
        defer {
            sender.stop()
            receiver.stop()
            rxRelay.stop()
            txRelay.stop()
        }
        let outcome = try #require(await sender.send(OutboundFax(destination: receiver.uri(number: "15551234567"),
                                                                  document: Fixtures.threePageFine,
                                                                  options: sender.daemon.configuration.fax.options,
                                                                  transport: transport)))
        let received = try #require(await receiver.outcomes.next(count: 1, timeout: 30).first)
        // The relay threads write their counters: stop them before reading (stop is idempotent).
        rxRelay.stop()
        txRelay.stop()
        return (outcome, received, (rxRelay.dropped + txRelay.dropped, rxRelay.dropped + txRelay.dropped + rxRelay.forwarded + txRelay.forwarded))
    }
}
