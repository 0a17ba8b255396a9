/// Builders for faxd's own offers and answers. RFC 3264 sections 5 and 6, ITU-T T.38 Annex D.
extension SessionDescription {
    /// The telephone-event range faxd declares it can receive; the events themselves are ignored. RFC 4733 section 2.4.1.
    public static let telephoneEventRange = "0-15"

    /// An audio offer: one `m=audio` with `codecs` in preference order (static PTs), telephone-event at
    /// `telephoneEvent` unless nil, and a=ptime. RFC 3264 section 5, RFC 3551 section 6.
    public static func audioOffer(
        origin: SDPOrigin,
        sessionName: String = "faxd",
        address: String,
        port: UInt16,
        codecs: [AudioCodec],
        telephoneEvent: UInt8? = 101,
        ptime: Int = 20,
        direction: SDPDirection = .sendrecv
    ) -> SessionDescription {
        let media = MediaDescription.audio(
            port: port,
            codecs: codecs.map { ($0, $0.staticPayloadType) },
            telephoneEvent: telephoneEvent, ptime: ptime, direction: direction)
        return SessionDescription(
            origin: origin, sessionName: sessionName,
            connection: SDPConnection(address: address), media: [media])
    }

    /// An audio answer with the one negotiated codec at the offerer's payload type, its telephone-event PT echoed,
    /// and `direction` (use `SDPDirection.answer` of the offered one). `timing` must echo the offer's. RFC 3264 section 6.1.
    public static func audioAnswer(
        origin: SDPOrigin,
        sessionName: String = "faxd",
        address: String,
        port: UInt16,
        codec: AudioCodec,
        payloadType: UInt8,
        telephoneEvent: UInt8?,
        ptime: Int = 20,
        direction: SDPDirection = .sendrecv,
        timing: SDPTiming = .permanent
    ) -> SessionDescription {
        let media = MediaDescription.audio(
            port: port, codecs: [(codec, payloadType)],
            telephoneEvent: telephoneEvent, ptime: ptime, direction: direction)
        return SessionDescription(
            origin: origin, sessionName: sessionName,
            connection: SDPConnection(address: address), timing: timing, media: [media])
    }

    /// A T.38 offer: `m=image <port> udptl t38` with the attributes of `t38`. ITU-T T.38 Annex D.
    public static func imageOffer(
        origin: SDPOrigin,
        sessionName: String = "faxd",
        address: String,
        port: UInt16,
        t38: T38Parameters
    ) -> SessionDescription {
        SessionDescription(
            origin: origin, sessionName: sessionName,
            connection: SDPConnection(address: address),
            media: [MediaDescription.image(port: port, t38: t38)])
    }

    /// A T.38 answer: `m=image <port> <proto> t38` carrying the negotiated `t38` (see `T38Parameters.negotiateT38`).
    /// `proto` echoes the offer's spelling; a direction other than sendrecv is stated. ITU-T T.38 Annex D, RFC 3264 section 6.
    public static func imageAnswer(
        origin: SDPOrigin,
        sessionName: String = "faxd",
        address: String,
        port: UInt16,
        t38: T38Parameters,
        proto: String = "udptl",
        direction: SDPDirection = .sendrecv,
        timing: SDPTiming = .permanent
    ) -> SessionDescription {
        SessionDescription(
            origin: origin, sessionName: sessionName,
            connection: SDPConnection(address: address), timing: timing,
            media: [MediaDescription.image(port: port, t38: t38, proto: proto, direction: direction)])
    }

    /// faxd's whole answer to `offer`: one stream accepted (T.38 when offered with `t38` set and `preferT38`, else
    /// the first audio stream that negotiates), every other m= line declined with port 0 in the same position,
    /// direction answered per the offer (c=0.0.0.0 counts as sendonly), t= echoed. Throws 488 when nothing is
    /// usable. RFC 3264 sections 6 and 8.4, ITU-T T.38 Annex D.
    public static func answer(
        to offer: SessionDescription,
        origin: SDPOrigin,
        sessionName: String = "faxd",
        address: String,
        audioPort: UInt16,
        imagePort: UInt16,
        codecs: [AudioCodec] = [.pcmu, .pcma],
        t38: T38Parameters?,
        preferT38: Bool = true
    ) throws(SDPNegotiationError) -> SessionDescription {
        var reasons: [String] = []
        var imageChoice: (index: Int, media: MediaDescription)?
        var audioChoice: (index: Int, media: MediaDescription)?

        for (index, media) in offer.media.enumerated() {
            let direction = answerDirection(offer: offer, media: media)
            if media.kind.matches(.image) {
                guard imageChoice == nil else { continue }
                guard let t38 else {
                    reasons.append("T.38 is disabled locally")
                    continue
                }
                guard !media.isDeclined else {
                    reasons.append("the offer disabled the image stream (port 0)")
                    continue
                }
                guard asciiCaseInsensitiveEquals(media.proto, "udptl"),
                      media.formats.contains(where: { asciiCaseInsensitiveEquals($0, "t38") }) else {
                    reasons.append("image transport '\(media.proto) \(media.formats.joined(separator: " "))' is not udptl t38")
                    continue
                }
                let negotiated = T38Parameters.negotiateT38(offer: T38Parameters(media: media), local: t38)
                imageChoice = (index, .image(port: imagePort, t38: negotiated, proto: media.proto, direction: direction))
            } else if media.kind.matches(.audio) {
                guard audioChoice == nil else { continue }
                switch AudioNegotiation.negotiateAudio(offer: media, supported: codecs) {
                case let .accepted(codec, payloadType, telephoneEvent, ptime):
                    audioChoice = (index, .audio(
                        port: audioPort, codecs: [(codec, payloadType)],
                        telephoneEvent: telephoneEvent, ptime: ptime, direction: direction))
                case let .rejected(reason):
                    reasons.append(reason)
                }
            } else {
                reasons.append("m=\(media.kind) streams are not supported")
            }
        }

        let chosen = (preferT38 ? imageChoice ?? audioChoice : audioChoice ?? imageChoice)
        guard let chosen else {
            throw SDPNegotiationError(reason: reasons.isEmpty ? "the offer has no media" : reasons.joined(separator: "; "))
        }
        let media = offer.media.enumerated().map { index, offered in
            index == chosen.index ? chosen.media : MediaDescription.declined(answering: offered)
        }
        return SessionDescription(
            origin: origin, sessionName: sessionName,
            connection: SDPConnection(address: address), timing: offer.timing, media: media)
    }

    /// The direction to answer `media` with; the RFC 2543 c=0.0.0.0 hold counts as sendonly. RFC 3264 sections 6.1 and 8.4.
    private static func answerDirection(offer: SessionDescription, media: MediaDescription) -> SDPDirection {
        var offered = offer.direction(of: media)
        if offered == .sendrecv, offer.connection(for: media)?.isHoldAddress == true {
            offered = .sendonly
        }
        return offered.answer
    }
}

/// Media sections for faxd's offers and answers. RFC 3264 sections 5 and 6.
extension MediaDescription {
    /// An `m=audio <port> RTP/AVP` section listing `codecs` at their payload types with rtpmaps, telephone-event
    /// with fmtp 0-15, a=ptime and the direction. RFC 3264 section 5, RFC 4733 section 2.4.1.
    public static func audio(
        port: UInt16,
        codecs: [(codec: AudioCodec, payloadType: UInt8)],
        telephoneEvent: UInt8?,
        ptime: Int,
        direction: SDPDirection
    ) -> MediaDescription {
        var formats = codecs.map { String($0.payloadType) }
        var attributes = codecs.map { $0.codec.rtpMap(payloadType: $0.payloadType).attribute }
        if let telephoneEvent {
            formats.append(String(telephoneEvent))
            attributes.append(RTPMap(payloadType: telephoneEvent, encodingName: "telephone-event", clockRate: 8000).attribute)
            attributes.append(SDPAttribute(name: "fmtp", value: "\(telephoneEvent) \(SessionDescription.telephoneEventRange)"))
        }
        attributes.append(SDPAttribute(name: "ptime", value: String(ptime)))
        attributes.append(direction.attribute)
        return MediaDescription(kind: .audio, port: port, proto: "RTP/AVP", formats: formats, attributes: attributes)
    }

    /// An `m=image <port> udptl t38` section with the T.38 attributes; direction is written only when not
    /// sendrecv, since T.38 gateways commonly omit it. ITU-T T.38 Annex D.
    public static func image(
        port: UInt16,
        t38: T38Parameters,
        proto: String = "udptl",
        direction: SDPDirection = .sendrecv
    ) -> MediaDescription {
        var attributes = t38.attributes()
        if direction != .sendrecv { attributes.append(direction.attribute) }
        return MediaDescription(kind: .image, port: port, proto: proto, formats: ["t38"], attributes: attributes)
    }

    /// The answer's entry for a stream faxd declines: same media, proto and formats, port 0, nothing else. RFC 3264 section 6.
    public static func declined(answering offered: MediaDescription) -> MediaDescription {
        MediaDescription(kind: offered.kind, port: 0, proto: offered.proto, formats: offered.formats)
    }
}
