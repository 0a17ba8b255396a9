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
        if sdp.media.contains(where: { $0.kind.matches(.image) }) {
            reasons.append("T.38 (m=image) is not enabled")
        }
        throw SDPNegotiationError(reason: reasons.isEmpty ? "the SDP has no audio stream" : reasons.joined(separator: "; "))
    }
}
