import Engine
import FaxdTesting
import Foundation
import Media
import Synchronization
import Testing

/// Media from strangers during a real call over 127.0.0.1: a scanner sprays every port of both
/// engines' RTP ranges with RTP-looking packets, garbage and oversized datagrams while a fax runs.
@Suite struct MediaHardeningTests {
    /// Sends to every port in `ranges` from its own socket every 40 ms until stopped, on a thread
    /// of its own (not the test pool). Kinds rotate: RTP in the call's payload types with loud
    /// noise, garbage, and datagrams longer than any media one.
    final class Sprayer: @unchecked Sendable {
        private let stopped = Atomic<Bool>(false)
        private let done = DispatchSemaphore(value: 0)
        let sent = Atomic<Int>(0)

        init(ranges: [ClosedRange<UInt16>]) throws {
            // From 127.0.0.2: the outcome's remote then tells whether a stranger took the stream.
            let socket = try UDPSocket(bindHost: "127.0.0.2", port: 0)
            socket.latchToSource = false
            let thread = Thread { [self] in
                var random = SplitMix64(seed: 7)
                var round = 0
                while !stopped.load(ordering: .relaxed) {
                    for range in ranges {
                        for port in range {
                            var datagram: [UInt8]
                            switch (round + Int(port)) % 3 {
                            case 0:
                                datagram = [0x80, round % 2 == 0 ? 8 : 0, UInt8(round & 0xFF), 0, 0, 0, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF]
                                for _ in 0..<160 { datagram.append(UInt8(truncatingIfNeeded: random.next())) }
                            case 1:
                                datagram = (0..<40).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                            default:
                                datagram = [UInt8](repeating: 0x80, count: 1600)
                            }
                            try? socket.setRemote(host: "127.0.0.1", port: port)
                            datagram.withUnsafeBytes { socket.send($0) }
                            sent.add(1, ordering: .relaxed)
                        }
                    }
                    round += 1
                    Thread.sleep(forTimeInterval: 0.04)
                }
                done.signal()
            }
            thread.name = "sprayer"
            thread.start()
        }

        /// Idempotent.
        func stop() {
            guard !stopped.exchange(true, ordering: .relaxed) else { return }
            done.wait()
        }
    }

    @Test func strangersSprayingTheMediaPortsChangeNothing() async throws {
        let receiver = try TestEngine(label: "spray-rx")
        let sender = try TestEngine(label: "spray-tx")
        defer {
            sender.stop()
            receiver.stop()
        }
        let sprayer = try Sprayer(ranges: [receiver.mediaPorts, sender.mediaPorts])
        defer { sprayer.stop() }
        let outcome = try #require(await sender.send(OutboundFax(destination: receiver.uri(number: "15551234567"),
                                                                  document: Fixtures.threePageLight,
                                                                  options: sender.daemon.configuration.fax.options)))
        let received = try #require(await receiver.outcomes.next(count: 1, timeout: 30).first)
        #expect(outcome.success && received.success, "\(outcome.t30Name) / \(received.t30Name) \(received.detail ?? "")")
        #expect(received.pagesTransferred == 3)
        let file = try #require(received.file)
        #expect(PageCheck.compare(sent: Fixtures.threePageLight, received: file) == [])
        for (side, o) in [("sender", outcome), ("receiver", received)] {
            let media = try #require(o.media)
            #expect(media.foreign > 100, "\(side): \(media)")
            #expect(media.oversized > 100, "\(side): \(media)")
            #expect(media.remote?.hasPrefix("127.0.0.1:") == true, "\(side): the stream stayed with the far end: \(media)")
        }
        sprayer.stop()
        print("media spray: \(sprayer.sent.load(ordering: .relaxed)) datagrams; receiver dropped \(received.media?.foreign ?? 0) foreign, \(received.media?.oversized ?? 0) oversized")
    }
}
