import Fax
import FaxdTesting
import Foundation
import Media
import Testing

/// What one call's spandsp state keeps in memory (issue 20). spandsp's init zeroes its whole
/// state, ECM frame buffer included (66,560 of its 90,520 or 80,232 bytes); the terminals give
/// the buffer's pages back at once and a receiver again after each page, so only frames written
/// since take memory. Figures are printed; the checks are on the buffer's resident pages (mincore).
@Suite struct ChannelMemoryTests {
    final class Discard: T38PacketSink {
        func sendIFP(_ ifp: UnsafeRawBufferPointer, repeatCount: Int) {}
    }

    /// Two edge pages of the buffer are shared with other fields and stay.
    static let edgePages = 2 * 4096

    static func residentSetBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * 4096 : 0
    }

    @Test func idleTerminalsHoldNoECMBuffer() throws {
        let dir = Fixtures.scratchDirectory("memory-idle")
        let sink = Discard()
        let count = 300
        let before = Self.residentSetBytes()
        var audio: [AudioFaxTerminal] = []
        var t38: [T38FaxTerminal] = []
        for i in 0..<count {
            audio.append(try AudioFaxTerminal(job: .receive(path: dir + "/a\(i).tif"), callingParty: false, options: FaxOptions()))
            t38.append(try T38FaxTerminal(job: .receive(path: dir + "/t\(i).tif"), callingParty: false, options: FaxOptions(),
                                          session: T38Session(), sink: sink))
        }
        let after = Self.residentSetBytes()
        let ecm = audio.map(\.residentECMBytes).max()! , ecmT38 = t38.map(\.residentECMBytes).max()!
        print("idle receiving terminals: \(count) audio + \(count) T.38 took \((after - before) / (2 * count) / 1024) KB of RSS each (process RSS, other tests run alongside); state \(AudioFaxTerminal.stateBytes) / \(T38FaxTerminal.stateBytes) bytes, ECM buffer resident at most \(ecm) / \(ecmT38) bytes")
        #expect(ecm <= Self.edgePages && ecmT38 <= Self.edgePages)
    }

    @Test func receiverGivesTheECMBufferBackAfterThePages() throws {
        let dir = Fixtures.scratchDirectory("memory-ecm")
        let sender = try AudioFaxTerminal(job: .send(path: Fixtures.benchLetter), callingParty: true, options: FaxOptions())
        let receiver = try AudioFaxTerminal(job: .receive(path: dir + "/rx.tif"), callingParty: false, options: FaxOptions())
        var receiverPeak = 0
        let outcome = AudioBackToBack.run(sender: sender, receiver: receiver, link: { _, _, _ in
            receiverPeak = max(receiverPeak, receiver.residentECMBytes)
            return true
        })
        #expect(outcome.receiver.pagesTransferred == 3 && outcome.receiver.ecm)
        print("ECM buffer resident: receiver up to \(receiverPeak) bytes during the letter's pages, \(receiver.residentECMBytes) after them; sender \(sender.residentECMBytes)")
        #expect(receiverPeak > Self.edgePages)
        #expect(receiver.residentECMBytes <= Self.edgePages)
    }
}
