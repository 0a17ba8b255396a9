import SIP
import Testing

@Suite("SDP builders and answers")
struct SDPBuilderTests {
    private let origin = SDPOrigin(username: "faxd", sessionID: 42, sessionVersion: 1, address: "203.0.113.10")

    private func lines(_ text: [String]) -> String {
        text.map { $0 + "\r\n" }.joined()
    }

    @Test("audio offer")
    func audioOffer() throws {
        let offer = SessionDescription.audioOffer(origin: origin, address: "203.0.113.10", port: 30000, codecs: [.pcma, .pcmu])
        #expect(offer.render() == lines([
            "v=0", "o=faxd 42 1 IN IP4 203.0.113.10", "s=faxd", "c=IN IP4 203.0.113.10", "t=0 0",
            "m=audio 30000 RTP/AVP 8 0 101", "a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:20", "a=sendrecv",
        ]))
        #expect(try SessionDescription(parsing: offer.render()) == offer)
        let plain = SessionDescription.audioOffer(
            origin: origin, address: "2001:db8::10", port: 30000, codecs: [.pcmu], telephoneEvent: nil, ptime: 30)
        #expect(plain.connection == SDPConnection(netType: "IN", addrType: .ip6, address: "2001:db8::10"))
        #expect(plain.media[0].fieldValue == "audio 30000 RTP/AVP 0")
        #expect(plain.media[0].ptime == 30)
    }

    @Test("audio answer built from a negotiation result")
    func audioAnswer() throws {
        let offer = try SessionDescription(parsing: SDPFixtures.text("pcma-dynamic.in.sdp"))
        let agreement = try SDPNegotiator.negotiate(offer: offer, local: SDPCapabilities(t38: nil))
        let answer = agreement.answer(origin: origin, address: "203.0.113.10", port: 30000)
        #expect(answer.render() == lines([
            "v=0", "o=faxd 42 1 IN IP4 203.0.113.10", "s=faxd", "c=IN IP4 203.0.113.10", "t=0 0",
            "m=audio 30000 RTP/AVP 96 97", "a=rtpmap:96 PCMA/8000", "a=rtpmap:97 telephone-event/8000",
            "a=fmtp:97 0-15", "a=ptime:30", "a=sendrecv",
        ]))
    }

    @Test("image offer and answer section")
    func image() throws {
        let t38 = T38Parameters(maxBitRate: 14400, maxBuffer: 2000, maxDatagram: 400, udpErrorCorrection: .redundancy)
        let offer = SessionDescription.imageOffer(origin: origin, address: "203.0.113.10", port: 30002, t38: t38)
        #expect(offer.render() == lines([
            "v=0", "o=faxd 42 1 IN IP4 203.0.113.10", "s=faxd", "c=IN IP4 203.0.113.10", "t=0 0",
            "m=image 30002 udptl t38", "a=T38FaxVersion:0", "a=T38MaxBitRate:14400",
            "a=T38FaxRateManagement:transferredTCF", "a=T38FaxMaxBuffer:2000", "a=T38FaxMaxDatagram:400",
            "a=T38FaxUdpEC:t38UDPRedundancy",
        ]))
        #expect(T38Parameters(media: try SessionDescription(parsing: offer.render()).media[0]) == t38)
        let answer = MediaDescription.image(port: 30002, t38: t38, proto: "UDPTL", direction: .recvonly)
        #expect(answer.fieldValue == "image 30002 UDPTL t38")
        #expect(answer.direction == .recvonly)
        #expect(MediaDescription.image(port: 30002, t38: t38).direction == nil, "sendrecv is left unsaid, as gateways do")
    }

    @Test("bumpVersion increments the origin and wraps instead of trapping")
    func bumpVersion() {
        var offer = SessionDescription.audioOffer(origin: origin, address: "203.0.113.10", port: 30000, codecs: [.pcmu])
        offer.bumpVersion()
        offer.bumpVersion()
        #expect(offer.origin.sessionVersion == 3)
        #expect(offer.render().contains("o=faxd 42 3 IN IP4 203.0.113.10\r\n"))
        var last = SDPOrigin(sessionID: 1, sessionVersion: .max, address: "192.0.2.1")
        last.bumpVersion()
        #expect(last.sessionVersion == 0)
    }

    private func answer(_ offer: SessionDescription, t38: T38Parameters? = T38Parameters(), preferT38: Bool = true) throws(SDPNegotiationError) -> SessionDescription {
        let agreement = try SDPNegotiator.negotiate(offer: offer, local: SDPCapabilities(t38: t38, preferT38: preferT38))
        let port: UInt16 = if case .image = agreement.stream { 30002 } else { 30000 }
        return agreement.answer(origin: origin, address: "203.0.113.10", port: port)
    }

    @Test("audio is chosen over image when T.38 is not preferred")
    func preferAudio() throws {
        let offer = try SessionDescription(parsing: SDPFixtures.text("audio-and-image.in.sdp"))
        let result = try answer(offer, preferT38: false)
        #expect(result.media.map(\.port) == [30000, 0])
        #expect(result.media[1].fieldValue == "image 0 udptl t38")
        #expect(result.media[1].attributes.isEmpty)
    }

    @Test("an image-only offer with T.38 disabled gets 488")
    func t38Disabled() throws {
        let offer = try SessionDescription(parsing: SDPFixtures.text("t38-carrier-offer.in.sdp"))
        #expect(throws: SDPNegotiationError(reason: "T.38 is disabled locally")) {
            try answer(offer, t38: nil)
        }
        #expect(SDPNegotiationError(reason: "x").description == "488 Not Acceptable Here: x")
    }

    @Test("unknown streams are declined in place; recvonly is answered sendonly; timing is echoed")
    func otherStreams() throws {
        let offer = try SDPParser.parse(lines([
            "v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=3034423619 0",
            "m=video 5000 RTP/AVP 31", "m=audio 5002 RTP/AVP 0", "a=recvonly", "m=image 5004 TCP t38",
        ]))
        let result = try answer(offer)
        #expect(result.media.map(\.fieldValue) == ["video 0 RTP/AVP 31", "audio 30000 RTP/AVP 0", "image 0 TCP t38"])
        #expect(result.media[1].direction == .sendonly)
        #expect(result.timing == SDPTiming(start: 3_034_423_619, stop: 0))
    }

    @Test("an offer with no usable stream lists every reason")
    func nothingUsable() throws {
        let offer = try SDPParser.parse(lines([
            "v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0",
            "m=video 5000 RTP/AVP 31", "m=image 0 udptl t38", "m=audio 5002 RTP/AVP 18",
        ]))
        #expect(throws: SDPNegotiationError(reason: "m=video streams are not supported; the offer disabled the image stream (port 0); "
            + "no supported audio codec offered: offered G729/8000 (PT 18); faxd supports PCMU/8000, PCMA/8000")) {
            try answer(offer)
        }
        let empty = SessionDescription(origin: origin)
        #expect(throws: SDPNegotiationError(reason: "the offer has no media")) {
            try answer(empty)
        }
    }
}
