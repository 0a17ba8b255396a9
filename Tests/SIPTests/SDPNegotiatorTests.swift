import SIP
import Testing

/// `SDPNegotiator` beyond the golden answers: the stream values the orchestrator runs on, reading
/// answers to our own offers, and the refusals. RFC 3264 sections 6 and 7, ITU-T T.38 Annex D.
@Suite("SDP negotiator")
struct SDPNegotiatorTests {
    private let origin = SDPOrigin(username: "faxd", sessionID: 42, sessionVersion: 1, address: "203.0.113.10")
    private let local = SDPCapabilities(t38: T38Parameters(maxBitRate: 14400, maxBuffer: 2000, maxDatagram: 400, udpErrorCorrection: .redundancy))

    private func sdp(_ lines: [String]) throws -> SessionDescription {
        try SDPParser.parse(lines.map { $0 + "\r\n" }.joined())
    }

    @Test("the audio stream carries codec, PT, telephone-event, ptime, address and hold direction")
    func audioStream() throws {
        let offer = try SessionDescription(parsing: SDPFixtures.text("hold-reinvite.in.sdp"))
        let agreement = try SDPNegotiator.negotiate(offer: offer, local: local)
        #expect(agreement.stream == .audio(NegotiatedAudio(
            index: 0, codec: .pcmu, payloadType: 0, telephoneEvent: 101, ptime: 20,
            remoteHost: "0.0.0.0", remotePort: 17482, direction: .sendonly)))
    }

    @Test("the image stream carries both parameter sets, the media-level address and the datagram limit")
    func imageStream() throws {
        let offer = try SessionDescription(parsing: SDPFixtures.text("t38-broken-booleans.in.sdp"))
        guard case .image(let image) = try SDPNegotiator.negotiate(offer: offer, local: local).stream else {
            Issue.record("T.38 was not chosen")
            return
        }
        #expect(image.remote == T38Parameters(media: offer.media[image.index]))
        #expect(image.agreed == T38Parameters.negotiateT38(offer: image.remote, local: local.t38!))
        #expect(image.remoteHost == offer.connection(for: offer.media[image.index])?.address)
        #expect(image.farMaxDatagram == min(image.remote.maxDatagram ?? 400, 1400))
    }

    @Test("T38FaxMaxDatagram: the far side's value, 400 when absent or zero, never above 1400")
    func farMaxDatagram() {
        func image(_ datagram: Int?) -> NegotiatedImage {
            NegotiatedImage(index: 0, remote: T38Parameters(maxDatagram: datagram), agreed: T38Parameters(), proto: "udptl",
                            remoteHost: "192.0.2.1", remotePort: 5000, direction: .sendrecv)
        }
        #expect(image(176).farMaxDatagram == 176)
        #expect(image(nil).farMaxDatagram == 400)
        #expect(image(0).farMaxDatagram == 400)
        #expect(image(65000).farMaxDatagram == 1400)
    }

    @Test("a stream without any c= is not usable; the next one is taken")
    func missingConnection() throws {
        let offer = try sdp([
            "v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0",
            "m=image 5004 udptl t38",
            "m=audio 5002 RTP/AVP 0", "c=IN IP4 192.0.2.9",
        ])
        let agreement = try SDPNegotiator.negotiate(offer: offer, local: local)
        #expect(agreement.stream.index == 1)
        #expect(agreement.answer(origin: origin, address: "203.0.113.10", port: 30000).media.map(\.port) == [0, 30000])
        let imageOnly = try sdp(["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "m=image 5004 udptl t38"])
        #expect(throws: SDPNegotiationError(reason: "the image stream has no c= line")) {
            try SDPNegotiator.negotiate(offer: imageOnly, local: local)
        }
    }

    @Test("a refusal is 488 with the reason")
    func refusal() throws {
        let offer = try SessionDescription(parsing: SDPFixtures.text("srtp-offer.in.sdp"))
        do {
            _ = try SDPNegotiator.negotiate(offer: offer, local: local)
            Issue.record("an SRTP offer was accepted")
        } catch {
            #expect(error.statusCode == 488)
            #expect(error.description == "488 Not Acceptable Here: audio transport 'RTP/SAVP' is not supported (faxd speaks plain RTP/AVP)")
        }
    }

    @Test("the far end's answer to our audio offer: the codec it kept, at its address")
    func readsAudioAnswer() throws {
        let ours = SessionDescription.audioOffer(origin: origin, address: "203.0.113.10", port: 30000, codecs: [.pcmu, .pcma])
        let theirs = try sdp([
            "v=0", "o=- 7 7 IN IP4 198.51.100.5", "s=-", "c=IN IP4 198.51.100.5", "t=0 0",
            "m=audio 41000 RTP/AVP 8", "a=ptime:20",
        ])
        let stream = try SDPNegotiator.readAnswer(theirs, to: ours, local: local)
        #expect(stream == .audio(NegotiatedAudio(index: 0, codec: .pcma, payloadType: 8, telephoneEvent: nil, ptime: 20,
                                                 remoteHost: "198.51.100.5", remotePort: 41000, direction: .sendrecv)))
        let declined = try sdp(["v=0", "o=- 7 8 IN IP4 198.51.100.5", "s=-", "c=IN IP4 198.51.100.5", "t=0 0", "m=audio 0 RTP/AVP 0"])
        #expect(throws: SDPNegotiationError(reason: "the offer disabled the audio stream (port 0)")) {
            try SDPNegotiator.readAnswer(declined, to: ours, local: local)
        }
    }

    @Test("the far end's answer to our T.38 offer: its image stream, or a refusal when it answered audio")
    func readsImageAnswer() throws {
        let ours = SessionDescription.imageOffer(origin: origin, address: "203.0.113.10", port: 30002, t38: local.t38!)
        let theirs = try SessionDescription(parsing: SDPFixtures.text("t38-fec.in.sdp"))
        guard case .image(let image) = try SDPNegotiator.readAnswer(theirs, to: ours, local: local) else {
            Issue.record("no image stream read")
            return
        }
        #expect(image.proto == "UDPTL")
        let audioOnly = try SessionDescription(parsing: SDPFixtures.text("freeswitch-audio-offer.in.sdp"))
        #expect(throws: SDPNegotiationError(reason: "the answer has no image stream")) {
            try SDPNegotiator.readAnswer(audioOnly, to: ours, local: local)
        }
    }
}
