import Engine
import FaxdTesting
import Foundation
import SIP
import Testing

/// The answers faxd puts on the wire, read from its 200 OKs: the path production runs (the golden
/// fixtures in SIPTests check the negotiator itself). RFC 3264 sections 6 and 6.1.
@Suite struct SDPAnswerWireTests {
    /// An audio INVITE with a bounded t= and a=ptime:30 is answered with that t= and ptime; a T.38
    /// re-INVITE marked sendonly is answered recvonly with its own t= echoed.
    @Test func answersEchoTimingPtimeAndMirrorTheImageDirection() async throws {
        let engine = try TestEngine(label: "sdp-answer-wire") {
            $0.t38.silenceTimeoutSeconds = 30
            $0.media.silenceTimeoutSeconds = 30
        }
        defer { engine.stop() }
        let caller = try T38ReinviteTimingTests.Caller(target: engine.sipPort)
        let head = "v=0\r\no=caller 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
        let audio = String(format: head, 1) + "t=3034423619 3042462419\r\n"
            + "m=audio \(caller.mediaPort) RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:30\r\n"
        caller.send("INVITE", cseq: 1, sdp: audio)
        let ok = try #require(try await caller.response(cseq: 1, "INVITE") { $0 == 200 }, "the call was not answered")
        let toLine = try #require(ok.components(separatedBy: "\r\n").first { $0.hasPrefix("To:") })
        caller.toTag = String(try #require(toLine.components(separatedBy: "tag=").last))
        caller.send("ACK", cseq: 1)
        let answer = Self.lines(ok)
        #expect(answer.contains("t=3034423619 3042462419"), "the answer's t= must equal the offer's (RFC 3264 section 6): \(answer)")
        #expect(answer.contains("a=ptime:30"), "the offer's ptime is answered: \(answer)")

        let image = String(format: head, 2) + "t=3034423619 0\r\nm=image \(caller.mediaPort) udptl t38\r\n"
            + "a=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\n"
            + "a=T38FaxMaxDatagram:200\r\na=T38FaxUdpEC:t38UDPRedundancy\r\na=sendonly\r\n"
        caller.send("INVITE", cseq: 2, sdp: image)
        let switched = try #require(try await caller.response(cseq: 2, "INVITE") { $0 >= 200 }, "no answer to the T.38 re-INVITE")
        caller.send("ACK", cseq: 2)
        let imageAnswer = Self.lines(switched)
        #expect(SIPWire.statuses(switched).first == 200 && imageAnswer.contains { $0.hasPrefix("m=image ") }, "\(switched.prefix(300))")
        #expect(imageAnswer.contains("a=recvonly") && !imageAnswer.contains("a=sendrecv"), "sendonly is answered recvonly: \(imageAnswer)")
        #expect(imageAnswer.contains("t=3034423619 0"), "\(imageAnswer)")

        caller.send("BYE", cseq: 3)
        #expect(try await caller.response(cseq: 3, "BYE") { $0 == 200 } != nil)
        _ = await engine.outcomes.next(count: 1, timeout: 10)
        #expect(await settles(within: 10) { engine.daemon.orchestrator.activeCalls == 0 })
    }

    /// The body's lines (after the blank line), without CRs.
    static func lines(_ message: String) -> [String] {
        guard let range = message.range(of: "\r\n\r\n") else { return [] }
        return message[range.upperBound...].components(separatedBy: "\r\n")
    }
}
