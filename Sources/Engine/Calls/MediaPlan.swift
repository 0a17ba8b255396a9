import Media
import SIP

/// The Engine's name for an accepted offer waiting for its delayed answer (`Call.pendingPlan`); the
/// negotiation itself is `SDPNegotiator` in the SIP module.
typealias StreamPlan = SDPAgreement

extension NegotiatedAudio {
    /// The G.711 law the audio channel encodes and decodes for the negotiated codec. ITU-T G.711.
    var law: G711Law { codec == .pcmu ? .mulaw : .alaw }
}
