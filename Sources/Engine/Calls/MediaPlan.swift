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

    var law: G711Law { codec == .pcmu ? .mulaw : .alaw }

    /// Picks the first usable audio stream of `sdp` (RFC 3264 section 6.1); throws a 488 reason.
    init(from sdp: SessionDescription, supported: [AudioCodec]) throws(SDPNegotiationError) {
        var reasons: [String] = []
        for media in sdp.media where media.kind.matches(.audio) {
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

    /// The largest datagram we may send: the far side's T38FaxMaxDatagram (never raised), 400 if
    /// absent or nonsense, at most 1400.
    var farMaxDatagram: Int {
        guard let stated = remote.maxDatagram, stated > 0 else { return 400 }
        return min(stated, 1400)
    }

    /// The first usable `m=image udptl t38` stream of `sdp`, or nil.
    init?(from sdp: SessionDescription, local: T38Parameters) {
        for media in sdp.media where media.kind.matches(.image) && !media.isDeclined {
            guard media.proto.lowercased() == "udptl", media.formats.contains(where: { $0.lowercased() == "t38" }),
                  let connection = sdp.connection(for: media) else { continue }
            remoteHost = connection.address
            remotePort = media.port
            remote = T38Parameters(media: media)
            agreed = T38Parameters.negotiateT38(offer: remote, local: local)
            proto = media.proto
            return
        }
        return nil
    }
}

/// Which stream a call runs on.
enum StreamPlan: Equatable {
    case audio(MediaPlan)
    case image(ImagePlan)

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
