/// What faxd can accept on a call, the local half of every negotiation. RFC 3264 section 6.
public struct SDPCapabilities: Sendable, Equatable {
    /// The G.711 codecs allowed (the trunk's); the offer's order decides among them. RFC 3264 section 6.1.
    public var codecs: [AudioCodec]
    /// faxd's own T.38 parameters, nil when T.38 is off for the call. ITU-T T.38 Annex D.
    public var t38: T38Parameters?
    /// Take an offered image stream over an offered audio one (a carrier offering both wants T.38). RFC 3264 section 6.
    public var preferT38: Bool

    /// Creates capabilities; the defaults are faxd's: both laws, T.38 preferred. RFC 3264 section 6.
    public init(codecs: [AudioCodec] = [.pcmu, .pcma], t38: T38Parameters?, preferT38: Bool = true) {
        self.codecs = codecs
        self.t38 = t38
        self.preferT38 = preferT38
    }
}

/// An offer faxd accepted and the stream it runs on; `answer(...)` renders what goes back. RFC 3264 section 6.
public struct SDPAgreement: Sendable, Equatable {
    /// The offer being answered; the answer mirrors its m= lines and t=. RFC 3264 section 6.
    public var offer: SessionDescription
    /// The one stream accepted. RFC 3264 section 6.
    public var stream: NegotiatedStream

    /// Creates an agreement (normally made by `SDPNegotiator.negotiate`). RFC 3264 section 6.
    public init(offer: SessionDescription, stream: NegotiatedStream) {
        self.offer = offer
        self.stream = stream
    }

    /// The answer: the accepted stream at `port` in its line, every other offered m= line declined with port 0 in
    /// its place, the direction mirrored (sendonly <-> recvonly), the audio ptime echoed, and the offer's t= line.
    /// The port is only known once the socket is open, after the 488 decision. RFC 3264 sections 6 and 6.1.
    public func answer(origin: SDPOrigin, sessionName: String = "faxd", address: String, port: UInt16) -> SessionDescription {
        let accepted: MediaDescription = switch stream {
        case .audio(let audio):
            .audio(port: port, codecs: [(audio.codec, audio.payloadType)], telephoneEvent: audio.telephoneEvent,
                   ptime: audio.ptime, direction: audio.direction.answer)
        case .image(let image):
            .image(port: port, t38: image.agreed, proto: image.proto, direction: image.direction.answer)
        }
        let media = offer.media.indices.map { index in
            index == stream.index ? accepted : MediaDescription.declined(answering: offer.media[index])
        }
        return SessionDescription(
            origin: origin, sessionName: sessionName, connection: SDPConnection(address: address),
            timing: offer.timing, media: media)
    }
}

/// faxd's one SDP offer/answer negotiator: what to accept from an offer, and what the far end accepted of ours.
/// Pure values in and out, so every rule is testable without sockets. RFC 3264 sections 6 and 7, ITU-T T.38 Annex D.
public enum SDPNegotiator {
    /// Chooses the stream to answer `offer` with: T.38 when an usable `m=image udptl t38` is offered and `local.t38`
    /// is set (unless `preferT38` is false and audio also works), else the first audio stream that negotiates.
    /// Throws 488 with every stream's reason when nothing is usable. RFC 3264 sections 6 and 8.4, ITU-T T.38 Annex D.
    public static func negotiate(offer: SessionDescription, local: SDPCapabilities) throws(SDPNegotiationError) -> SDPAgreement {
        var reasons: [String] = []
        var image: NegotiatedImage?
        var audio: NegotiatedAudio?
        for (index, media) in offer.media.enumerated() {
            if media.kind.matches(.image) {
                guard image == nil else { continue }
                guard let t38 = local.t38 else {
                    reasons.append("T.38 is disabled locally")
                    continue
                }
                switch imageStream(media, at: index, in: offer, local: t38) {
                case .success(let stream): image = stream
                case .failure(let error): reasons.append(error.reason)
                }
            } else if media.kind.matches(.audio) {
                guard audio == nil else { continue }
                switch audioStream(media, at: index, in: offer, codecs: local.codecs) {
                case .success(let stream): audio = stream
                case .failure(let error): reasons.append(error.reason)
                }
            } else {
                reasons.append("m=\(media.kind) streams are not supported")
            }
        }
        let chosen: NegotiatedStream? = if local.preferT38 {
            image.map(NegotiatedStream.image) ?? audio.map(NegotiatedStream.audio)
        } else {
            audio.map(NegotiatedStream.audio) ?? image.map(NegotiatedStream.image)
        }
        guard let chosen else {
            throw SDPNegotiationError(reason: reasons.isEmpty ? "the offer has no media" : reasons.joined(separator: "; "))
        }
        return SDPAgreement(offer: offer, stream: chosen)
    }

    /// The stream the far end accepted in `answer` to our `offer`: of the kind we offered (our first active m= line),
    /// the first such line it accepted with something faxd can run. RFC 3264 section 7.
    public static func readAnswer(_ answer: SessionDescription, to offer: SessionDescription,
                                  local: SDPCapabilities) throws(SDPNegotiationError) -> NegotiatedStream {
        let offeredImage = offer.media.first { !$0.isDeclined }?.kind.matches(.image) ?? false
        var reasons: [String] = []
        for (index, media) in answer.media.enumerated() {
            if offeredImage, media.kind.matches(.image) {
                guard let t38 = local.t38 else { throw SDPNegotiationError(reason: "T.38 is disabled locally") }
                switch imageStream(media, at: index, in: answer, local: t38) {
                case .success(let stream): return .image(stream)
                case .failure(let error): reasons.append(error.reason)
                }
            } else if !offeredImage, media.kind.matches(.audio) {
                switch audioStream(media, at: index, in: answer, codecs: local.codecs) {
                case .success(let stream): return .audio(stream)
                case .failure(let error): reasons.append(error.reason)
                }
            }
        }
        let kind = offeredImage ? "image" : "audio"
        throw SDPNegotiationError(reason: reasons.isEmpty ? "the answer has no \(kind) stream" : reasons.joined(separator: "; "))
    }

    /// Negotiates one offered audio line: codec and telephone-event by `AudioNegotiation`, plus the address in force.
    /// RFC 3264 section 6.1, RFC 8866 section 5.7.
    private static func audioStream(_ media: MediaDescription, at index: Int, in sdp: SessionDescription,
                                    codecs: [AudioCodec]) -> Result<NegotiatedAudio, SDPNegotiationError> {
        switch AudioNegotiation.negotiateAudio(offer: media, supported: codecs) {
        case let .accepted(codec, payloadType, telephoneEvent, ptime):
            guard let connection = sdp.connection(for: media) else {
                return .failure(SDPNegotiationError(reason: "the audio stream has no c= line"))
            }
            return .success(NegotiatedAudio(
                index: index, codec: codec, payloadType: payloadType, telephoneEvent: telephoneEvent, ptime: ptime,
                remoteHost: connection.address, remotePort: media.port, direction: direction(of: media, in: sdp)))
        case let .rejected(reason):
            return .failure(SDPNegotiationError(reason: reason))
        }
    }

    /// Negotiates one offered image line: it must be active `udptl t38` with an address; the parameters meet
    /// `local` by `T38Parameters.negotiateT38`. ITU-T T.38 Annex D.
    private static func imageStream(_ media: MediaDescription, at index: Int, in sdp: SessionDescription,
                                    local: T38Parameters) -> Result<NegotiatedImage, SDPNegotiationError> {
        guard !media.isDeclined else {
            return .failure(SDPNegotiationError(reason: "the offer disabled the image stream (port 0)"))
        }
        guard asciiCaseInsensitiveEquals(media.proto, "udptl"),
              media.formats.contains(where: { asciiCaseInsensitiveEquals($0, "t38") }) else {
            let transport = ([media.proto] + media.formats).joined(separator: " ")
            return .failure(SDPNegotiationError(reason: "image transport '\(transport)' is not udptl t38"))
        }
        guard let connection = sdp.connection(for: media) else {
            return .failure(SDPNegotiationError(reason: "the image stream has no c= line"))
        }
        let remote = T38Parameters(media: media)
        return .success(NegotiatedImage(
            index: index, remote: remote, agreed: T38Parameters.negotiateT38(offer: remote, local: local),
            proto: media.proto, remoteHost: connection.address, remotePort: media.port,
            direction: direction(of: media, in: sdp)))
    }

    /// The direction `media` states, inherited from the session when absent; the RFC 2543 hold address c=0.0.0.0
    /// counts as sendonly. RFC 3264 section 8.4, RFC 8866 section 6.7.
    private static func direction(of media: MediaDescription, in sdp: SessionDescription) -> SDPDirection {
        let stated = sdp.direction(of: media)
        if stated == .sendrecv, sdp.connection(for: media)?.isHoldAddress == true { return .sendonly }
        return stated
    }
}
