import Media
import SIP

/// The audio stream both sides agreed on, read from an SDP offer or answer.
struct MediaPlan: Equatable {
    var codec: AudioCodec
    var payloadType: UInt8
    var telephoneEvent: UInt8?
    var remoteHost: String
    var remotePort: UInt16
    var direction: SDPDirection
    /// Which m= line of the SDP it came from.
    var index = 0

    var law: G711Law { codec == .pcmu ? .mulaw : .alaw }

    /// Picks the first usable audio stream of `sdp` (RFC 3264 section 6.1); throws a 488 reason.
    init(from sdp: SessionDescription, supported: [AudioCodec]) throws(SDPNegotiationError) {
        var reasons: [String] = []
        for (index, media) in sdp.media.enumerated() where media.kind.matches(.audio) {
            switch AudioNegotiation.negotiateAudio(offer: media, supported: supported) {
            case let .accepted(codec, payloadType, telephoneEvent, _):
                guard let connection = sdp.connection(for: media) else {
                    reasons.append("the audio stream has no c= line")
                    continue
                }
                self.codec = codec
                self.payloadType = payloadType
                self.telephoneEvent = telephoneEvent
                self.remoteHost = connection.address
                self.remotePort = media.port
                var direction = sdp.direction(of: media)
                if direction == .sendrecv, connection.isHoldAddress { direction = .sendonly }
                self.direction = direction
                self.index = index
                return
            case let .rejected(reason):
                reasons.append(reason)
            }
        }
        throw SDPNegotiationError(reason: reasons.isEmpty ? "the SDP has no audio stream" : reasons.joined(separator: "; "))
    }
}

/// The T.38 stream both sides agreed on (ITU-T T.38 Annex D).
struct ImagePlan: Equatable {
    var remoteHost: String
    var remotePort: UInt16
    /// The far side's own parameters (its T38FaxMaxDatagram is what we may send).
    var remote: T38Parameters
    /// What both sides run with.
    var agreed: T38Parameters
    /// The offer's spelling of the transport ("udptl" or "UDPTL"), echoed in an answer.
    var proto: String
    /// Which m= line of the SDP it came from.
    var index = 0

    /// The largest datagram we may send: the far side's T38FaxMaxDatagram (never raised), 400 if
    /// absent or nonsense, at most 1400.
    var farMaxDatagram: Int {
        guard let stated = remote.maxDatagram, stated > 0 else { return 400 }
        return min(stated, 1400)
    }

    /// The first usable `m=image udptl t38` stream of `sdp`, or nil.
    init?(from sdp: SessionDescription, local: T38Parameters) {
        for (index, media) in sdp.media.enumerated() where media.kind.matches(.image) && !media.isDeclined {
            guard media.proto.lowercased() == "udptl", media.formats.contains(where: { $0.lowercased() == "t38" }),
                  let connection = sdp.connection(for: media) else { continue }
            remoteHost = connection.address
            remotePort = media.port
            remote = T38Parameters(media: media)
            agreed = T38Parameters.negotiateT38(offer: remote, local: local)
            proto = media.proto
            self.index = index
            return
        }
        return nil
    }
}

/// Which stream a call runs on.
enum StreamPlan: Equatable {
    case audio(MediaPlan)
    case image(ImagePlan)

    /// The offer's m= line it answers.
    var index: Int {
        switch self {
        case .audio(let plan): plan.index
        case .image(let plan): plan.index
        }
    }

    /// Chooses from an offer: T.38 when offered and allowed, else audio (RFC 3264 section 6).
    static func choose(from sdp: SessionDescription, t38: T38Parameters?, codecs: [AudioCodec]) throws(SDPNegotiationError) -> StreamPlan {
        if let t38, let image = ImagePlan(from: sdp, local: t38) { return .image(image) }
        do {
            return .audio(try MediaPlan(from: sdp, supported: codecs))
        } catch {
            guard sdp.media.contains(where: { $0.kind.matches(.image) }) else { throw error }
            let image = t38 == nil ? "T.38 is turned off for this trunk" : "the image stream is not a usable udptl t38 stream"
            throw SDPNegotiationError(reason: error.reason + "; " + image)
        }
    }
}

extension SessionDescription {
    /// This one-stream answer laid over `offer`: the answered stream in line `index`, every other
    /// offered m= line declined with port 0 in its place (RFC 3264 section 6: an answer has as many
    /// m= lines as the offer, in the same order).
    func fitted(to offer: SessionDescription, answering index: Int) -> SessionDescription {
        guard offer.media.count > 1, let answered = media.first, offer.media.indices.contains(index) else { return self }
        var fitted = self
        fitted.media = offer.media.enumerated().map { i, offered in i == index ? answered : MediaDescription.declined(answering: offered) }
        return fitted
    }
}
