import SIP
import Testing

@Suite("Audio negotiation")
struct AudioNegotiationTests {
    private func offer(_ formats: [String], _ attributes: [String] = [], proto: String = "RTP/AVP", port: UInt16 = 4000) -> MediaDescription {
        MediaDescription(
            kind: .audio, port: port, proto: proto, formats: formats,
            attributes: attributes.map { text in
                let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
                return SDPAttribute(name: parts[0], value: parts.count > 1 ? parts[1] : nil)
            })
    }

    @Test("the offer's order wins over ours")
    func offerOrder() {
        let media = offer(["8", "0"])
        #expect(AudioNegotiation.negotiateAudio(offer: media, supported: [.pcmu, .pcma])
            == .accepted(codec: .pcma, payloadType: 8, telephoneEvent: nil, ptime: 20))
        #expect(AudioNegotiation.negotiateAudio(offer: media, supported: [.pcmu])
            == .accepted(codec: .pcmu, payloadType: 0, telephoneEvent: nil, ptime: 20))
    }

    @Test("codecs are recognised by rtpmap name on dynamic PTs, any case, 8000 Hz mono only")
    func dynamicPayloadTypes() {
        #expect(AudioNegotiation.negotiateAudio(offer: offer(["110"], ["rtpmap:110 Pcmu/8000"]), supported: [.pcmu, .pcma])
            == .accepted(codec: .pcmu, payloadType: 110, telephoneEvent: nil, ptime: 20))
        #expect(AudioNegotiation.negotiateAudio(offer: offer(["96", "97"], ["rtpmap:96 PCMA/16000", "rtpmap:97 PCMA/8000/1"]), supported: [.pcma])
            == .accepted(codec: .pcma, payloadType: 97, telephoneEvent: nil, ptime: 20))
        #expect(AudioNegotiation.negotiateAudio(offer: offer(["96"], ["rtpmap:96 PCMA/8000/2"]), supported: [.pcma])
            == .rejected(reason: "no supported audio codec offered: offered PCMA/8000 (PT 96); faxd supports PCMA/8000"))
    }

    @Test("telephone-event/8000 is echoed, other clock rates are not, ptime comes from the offer")
    func telephoneEventAndPtime() {
        let media = offer(
            ["0", "100", "101"],
            ["rtpmap:100 telephone-event/48000", "rtpmap:101 TELEPHONE-EVENT/8000", "fmtp:101 0-16", "ptime:30"])
        #expect(AudioNegotiation.negotiateAudio(offer: media, supported: [.pcmu])
            == .accepted(codec: .pcmu, payloadType: 0, telephoneEvent: 101, ptime: 30))
    }

    @Test("an explicit rtpmap beats the static table; non-numeric formats are skipped")
    func rtpmapOverridesStatic() {
        let media = offer(["x", "8", "0"], ["rtpmap:8 G729/8000"])
        #expect(AudioNegotiation.negotiateAudio(offer: media, supported: [.pcmu, .pcma])
            == .accepted(codec: .pcmu, payloadType: 0, telephoneEvent: nil, ptime: 20))
    }

    @Test("rejections say why", arguments: [
        (MediaDescription(kind: .image, port: 4000, proto: "udptl", formats: ["t38"]),
         "m=image is not an audio stream"),
        (MediaDescription(kind: .audio, port: 0, proto: "RTP/AVP", formats: ["0"]),
         "the offer disabled the audio stream (port 0)"),
        (MediaDescription(kind: .audio, port: 4000, proto: "RTP/SAVP", formats: ["0"]),
         "audio transport 'RTP/SAVP' is not supported (faxd speaks plain RTP/AVP)"),
        (MediaDescription(kind: .audio, port: 4000, proto: "RTP/AVP", formats: ["18", "4", "126"]),
         "no supported audio codec offered: offered G729/8000 (PT 18), G723/8000 (PT 4), PT 126; faxd supports PCMU/8000, PCMA/8000"),
        (MediaDescription(kind: .audio, port: 4000, proto: "RTP/AVP", formats: []),
         "no supported audio codec offered: offered nothing; faxd supports PCMU/8000, PCMA/8000"),
    ])
    func rejections(media: MediaDescription, reason: String) {
        #expect(AudioNegotiation.negotiateAudio(offer: media, supported: [.pcmu, .pcma]) == .rejected(reason: reason))
    }

    @Test("nothing enabled locally is a rejection")
    func nothingSupported() {
        #expect(AudioNegotiation.negotiateAudio(offer: offer(["0"]), supported: [])
            == .rejected(reason: "no audio codec is enabled locally"))
    }

    @Test("the G729-only fixture is rejected, the carrier fixture skips G729")
    func fixtures() throws {
        let g729 = try SessionDescription(parsing: SDPFixtures.text("g729-only.in.sdp"))
        guard case .rejected = AudioNegotiation.negotiateAudio(offer: g729.media[0], supported: [.pcmu, .pcma]) else {
            Issue.record("G729-only offer was accepted")
            return
        }
        let carrier = try SessionDescription(parsing: SDPFixtures.text("carrier-g729-first.in.sdp"))
        #expect(AudioNegotiation.negotiateAudio(offer: carrier.media[0], supported: [.pcmu, .pcma])
            == .accepted(codec: .pcmu, payloadType: 0, telephoneEvent: 101, ptime: 20))
    }

    @Test("codec facts")
    func codecFacts() {
        #expect(AudioCodec.pcmu.staticPayloadType == 0)
        #expect(AudioCodec.pcma.staticPayloadType == 8)
        #expect(AudioCodec(staticPayloadType: 8) == .pcma)
        #expect(AudioCodec(staticPayloadType: 18) == nil)
        #expect(AudioCodec(rtpMap: RTPMap(payloadType: 99, encodingName: "pcmu", clockRate: 8000)) == .pcmu)
        #expect(AudioCodec.pcma.rtpMap(payloadType: 96).attributeValue == "96 PCMA/8000")
        #expect(RTPMap(attributeValue: "0 PCMU") == nil)
        #expect(RTPMap(attributeValue: "200 PCMU/8000") == nil)
        #expect(RTPMap(attributeValue: "97 L16/8000/2") == RTPMap(payloadType: 97, encodingName: "L16", clockRate: 8000, channels: 2))
    }
}
