/// Builders for faxd's own offers; answers come from `SDPAgreement.answer`. RFC 3264 section 5, ITU-T T.38 Annex D.
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
