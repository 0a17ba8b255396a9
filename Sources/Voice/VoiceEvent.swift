/// Why a voice channel stopped. RFC 3550 section 6.3.5 (a silent source times out)
public enum VoiceEndReason: Sendable, Equatable {
    /// No RTP (audio or events) arrived for the silence timeout.
    case mediaTimeout(seconds: Int)
    /// The call ran longer than the configured maximum.
    case maxDuration(seconds: Int)
    /// Stopped from outside: hangup, shutdown.
    case stopped
    /// The audio tap asked to take over (an `auto` number heard a fax): the socket goes on
    /// with another channel.
    case handedOver
}

/// Something that listens to a voice leg's received audio on its shard each tick (an `auto`
/// number's fax tone detector). It must not block or allocate. Returning true ends the channel
/// with `handedOver`.
public protocol VoiceAudioTap: AnyObject, Sendable {
    /// The far end's audio of one tick (160 samples) and the tick's number since the channel began.
    func listen(_ heard: UnsafeBufferPointer<Int16>, tick: Int) -> Bool
}

/// Why a playback ended. RIFF WAVE (Microsoft)
public enum PlaybackEndReason: Sendable, Equatable {
    /// The prompt played to its end (never for a loop).
    case finished
    /// `stopPlayback`, `unhold`, or a new `play` replaced it.
    case stopped
    /// The channel ended while it played.
    case hangup
}

/// What a voice channel tells its owner. Called on the shard queue (recording events on a
/// utility queue): the handler must only enqueue, never block. RFC 4733 section 2.5.2
public enum VoiceEvent: Sendable {
    /// The far end pressed a key (reported once whichever way it came). RFC 4733 section 2.5.2
    case dtmf(DTMFDigit)
    /// A playback sent its first frame. RIFF WAVE (Microsoft)
    case playbackStarted(id: Int, name: String)
    /// A playback stopped sending. RIFF WAVE (Microsoft)
    case playbackEnded(id: Int, name: String, reason: PlaybackEndReason)
    /// A recording was written (after `stopRecording` or the end of the call). RIFF WAVE (Microsoft)
    case recordingSaved(VoiceRecordingSummary)
    /// A recording could not be written. RIFF WAVE (Microsoft)
    case recordingFailed(path: String, reason: String)
    /// The channel ended; the last event it sends from the shard. RFC 3550 section 6.4
    case finished(VoiceReport)
}
