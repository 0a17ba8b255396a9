import Engine
import Fax
import FaxdTesting
import Foundation
import Media
import Synchronization
import Testing

/// T.38's silence watchdog against real documents: while one side sends a page the other sends
/// no datagram at all, for as long as the page lasts (issue 21: a dense page's ECM block outlasts
/// the 20 s timeout, and the sender hung up mid-page). Manual-clock channels, no sockets.
@Suite struct T38SilenceTests {
    static func channel(_ transport: PacketTransport, job: FaxJob, calling: Bool, ecm: Bool, silence: Int,
                        report: @escaping @Sendable (ChannelReport) -> Void) throws -> T38Channel {
        try T38Channel(transport: transport, job: job, callingParty: calling, options: FaxOptions(ecm: ecm),
                       errorCorrection: .redundancy(depth: 2), farMaxDatagram: 400, t38Version: 0, maxBitRate: 14400,
                       silenceTimeoutSeconds: silence, maxCallSeconds: 3600, onFinish: report)
    }

    /// A 3-page dense A4 document (tens of KB per page as G4; each page's data takes far longer to
    /// send than the silence timeout) goes through, with and without ECM, every page bit-identical.
    @Test(arguments: [true, false])
    func aDenseDocumentGoesThroughT38(ecm: Bool) throws {
        let document = try DenseDocument.path(pages: 3)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: document)[.size] as? Int)
        #expect(size > 150_000, "the dense document is \(size) bytes")
        let dir = Fixtures.scratchDirectory("t38-dense")
        let (a, b) = MemoryPipe.pair()
        let reports = Mutex<(ChannelReport?, ChannelReport?)>((nil, nil))
        let sender = try Self.channel(a, job: .send(path: document), calling: true, ecm: ecm, silence: 20) { r in
            reports.withLock { $0.0 = r }
        }
        let receiver = try Self.channel(b, job: .receive(path: dir + "/rx.tif"), calling: false, ecm: ecm, silence: 20) { r in
            reports.withLock { $0.1 = r }
        }
        ManualClockChannelTests.runUntilOneEnds(sender, receiver, seconds: 900, stop: { sender.stop(); receiver.stop() }) {
            reports.withLock { $0.0 != nil || $0.1 != nil }
        }
        ManualClockChannelTests.waitFor { reports.withLock { $0.0 != nil && $0.1 != nil } }
        let (s, r) = reports.withLock { $0 }
        let sent = try #require(s), received = try #require(r)
        // Whichever side reached phase E first ended the run; neither may have timed out.
        for report in [sent, received] {
            if case .mediaTimeout = report.reason { Issue.record("ended by \(report.reason)") }
        }
        #expect(sent.fax.result == .ok && received.fax.result == .ok, "\(sent.fax.result) / \(received.fax.result)")
        #expect(received.fax.pagesTransferred == 3)
        #expect(PageCheck.compare(sent: document, received: dir + "/rx.tif") == [])
        print("T.38 dense document, \(size) bytes, ECM \(ecm): \(received.fax.pagesTransferred) pages, \(received.fax.compression)")
    }

    /// A far end that really goes silent still ends the call, by the watchdog, naming the phase:
    /// an answering terminal whose caller never sends a datagram.
    @Test func aSilentCallerEndsTheAnsweringSideNamingThePhase() throws {
        let (a, _) = MemoryPipe.pair()
        let reported = Mutex<ChannelReport?>(nil)
        let receiver = try Self.channel(a, job: .receive(path: Fixtures.scratchDirectory("t38-wd") + "/rx.tif"),
                                        calling: false, ecm: true, silence: 5) { r in reported.withLock { $0 = r } }
        let shard = MediaShard(index: 0, clock: .manual)
        shard.add(receiver)
        shard.advance(ticks: 250)
        #expect(reported.withLock { $0 } == nil, "not before 5 s")
        shard.advance(ticks: 3)
        let report = try #require(reported.withLock { $0 })
        guard case .mediaTimeout(seconds: 5, let phase) = report.reason else {
            Issue.record("ended by \(report.reason)")
            return
        }
        #expect(!phase.isSendingPage && phase != .idle, "\(phase)")
        #expect(report.fax.result == .callDropped)
    }

    /// A receiver that vanishes in the middle of a dense page: the sender finishes sending the
    /// page (nothing ever comes back during it, by design), then T.30 or the watchdog ends the call
    /// within seconds of the page's end, never with the page counted as confirmed.
    @Test func aReceiverVanishingMidPageEndsTheSenderAfterThePage() throws {
        let document = try DenseDocument.path(pages: 3)
        let dir = Fixtures.scratchDirectory("t38-vanish")
        let (a, b) = MemoryPipe.pair()
        let reports = Mutex<(ChannelReport?, ChannelReport?)>((nil, nil))
        let sender = try Self.channel(a, job: .send(path: document), calling: true, ecm: true, silence: 10) { r in
            reports.withLock { $0.0 = r }
        }
        let receiver = try Self.channel(b, job: .receive(path: dir + "/rx.tif"), calling: false, ecm: true, silence: 10) { r in
            reports.withLock { $0.1 = r }
        }
        let shard = MediaShard(index: 0, clock: .manual)
        shard.add(sender)
        shard.add(receiver)
        // Until the sender is well into its first page's data, then the receiver disappears.
        var seconds = 0
        while sender.phase != .cECMSending && seconds < 120 {
            shard.advance(ticks: 50)
            seconds += 1
        }
        #expect(sender.phase == .cECMSending, "sender in \(sender.phase) after \(seconds) s")
        shard.advance(ticks: 250)
        shard.perform { receiver.stop() }
        shard.advance(ticks: 1)
        var sendingFor = 0
        while reports.withLock({ $0.0 }) == nil && seconds < 600 {
            if sender.phase.isSendingPage { sendingFor += 1 }
            shard.advance(ticks: 50)
            seconds += 1
        }
        let sent = try #require(reports.withLock { $0.0 })
        #expect(sendingFor > 15, "the page's data kept going \(sendingFor) s without a datagram back")
        #expect(sent.fax.result != .ok)
        #expect(sent.fax.pagesTransferred == 0)
        if case .mediaTimeout(_, let phase) = sent.reason { #expect(!phase.isSendingPage, "\(phase)") }
    }
}
