import Media
import SIP

extension NegotiatedAudio {
    /// The G.711 law the audio channel encodes and decodes for the negotiated codec. ITU-T G.711.
    var law: G711Law { codec == .pcmu ? .mulaw : .alaw }
}
