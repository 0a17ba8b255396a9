/// Voice calls (issue 16): where prompts come from, how long a parked call rings, what a held
/// party hears, and the trunk calls are dialled through.
public struct VoiceSettings: Sendable, Equatable {
    /// Trunk `POST /v2/calls` dials through when the request names no `connection_id`; nil uses
    /// `processing.send_trunk`, then the first trunk with a domain or outbound proxy.
    public var trunk: String?
    /// Directory `playback_start`'s `media_name` is read from (8 kHz mono WAV, or .ulaw/.alaw);
    /// nil: `<data_dir>/voice_media`. Names may not leave it.
    public var mediaDirectory: String?
    /// An inbound voice call not answered by the application within this many seconds is refused
    /// with 480 (hangup_cause timeout).
    public var ringTimeoutSeconds = 60
    /// WAV the far end hears while on hold; nil: a soft 440 Hz beep every 4 s.
    public var holdMusic: String?
    /// Longest `timeout_secs` a dial may ask for.
    public var maxDialTimeoutSeconds = 600
    /// Seconds an `auto` number listens for a calling fax machine's CNG before it stays a voice call.
    public var faxDetectSeconds = 10
    /// Fixed playout delay of a voice leg's jitter buffer, in milliseconds. Voice wants less
    /// delay than fax (media.jitter_ms, 60): a conversation, and most of all an application
    /// answering over a media stream, hears every millisecond of it (the stream's round trip is
    /// this + 0-20 ms to the next tick + one tick for the answer to play). SIP trunks from
    /// carriers rarely jitter by more; raise it for a jittery access network.
    public var jitterMilliseconds = 20

    public init() {}
}
